"""A goal-conditioned policy's plan, rolled through the world model, as a planning candidate.

Sampling planners draw few sequences near a narrow solution such as a grasp: a pick needs the
gripper above the object, lowered, closed and lifted in order, and CEM's Gaussian rarely draws
that from a wide prior. A policy learned from the logged trajectories
(`worldmodels.goal_policy`) proposes it: applied at each block boundary of its own imagined
rollout it gives one sequence of H blocks, which the controller scores with the planner's
candidates (and may start the search from), as TD-MPC2 (Hansen, Su, Wang, ICLR 2024) mixes its
policy's trajectories into MPPI's samples. The energy still chooses what is executed.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from planner.world_model import LatentDynamics


class GoalPolicy(Protocol):
    """What the prior reads from a world model: ``goal_policy(z, z_goal)``."""

    def __call__(self, z: Tensor, z_goal: Tensor) -> Tensor:
        """(B, P, D) latent states and (B, P, D) goals -> (B, K * A) raw actions."""
        ...


@torch.no_grad()
def policy_plan(
    world_model: LatentDynamics,
    policy: GoalPolicy,
    z_hist: Tensor,
    z_goal: Tensor,
    horizon: int,
    low: Tensor,
    high: Tensor,
    past_actions: Tensor | None = None,
) -> Tensor:
    """The policy's plan: its block at the last history frame, then at each frame the world
    model predicts under the blocks so far.

    Args:
        world_model: rolls out (B, T, P, D) histories under (B, N, H, K * A) actions.
        policy: maps (B, P, D) states and goals to (B, K * A) blocks.
        z_hist: (B, T, P, D) embeddings of the last T observations.
        z_goal: (B, P, D) goal embedding.
        horizon: H >= 1 blocks.
        low, high: (K * A,) the planner's bounds, which every block is clamped into.
        past_actions: optional (B, T-1, K * A) blocks taken between the history frames.

    Returns:
        (B, H, K * A) float32 inside the bounds.
    """
    low, high = low.to(z_hist.device), high.to(z_hist.device)
    z, blocks = z_hist[:, -1], []
    for h in range(horizon):
        blocks.append(torch.clamp(policy(z, z_goal).float(), low, high))  # (B, K * A)
        if h + 1 < horizon:
            sequence = torch.stack(blocks, 1)[:, None]  # (B, 1, h + 1, K * A)
            z = world_model.rollout(z_hist, sequence, past_actions)[:, 0, -1]  # (B, P, D)
    return torch.stack(blocks, 1)
