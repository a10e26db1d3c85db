"""The encoder's energy landscape in a ball arena (PointMaze, Wall): the goal distance of the
visual tokens at every free ball position, ranked.

Shows whether the encoder gives the planner a usable energy: a landscape that falls toward the
goal from everywhere can be planned on greedily; one with a second basin (Wall's encoder scores
the goal's mirror image in the other room almost as low as the goal) traps a planner that looks
a few steps ahead.
"""

from __future__ import annotations

import numpy as np
import torch

from envs.ball_arena import BallArenaEnv, is_clear
from worldmodels.world_model import WorldModel


def observed_visual_tokens(world_model: WorldModel, observations: list[dict]) -> torch.Tensor:
    """Visual tokens (F, P, D) of F observations, encoded one frame each."""
    pixels = torch.from_numpy(np.stack([o["pixels"] for o in observations]))[:, None]
    proprio = torch.from_numpy(np.stack([o["proprio"] for o in observations]))[:, None]
    with torch.no_grad():
        z = world_model.encode(pixels, proprio if world_model.proprio_dim else None)
    return world_model.visual_tokens(z[:, 0])


def energy_ranks(
    world_model: WorldModel, env: BallArenaEnv, goal: np.ndarray, xs: np.ndarray
) -> np.ndarray:
    """Rank (0 = lowest energy, 1 = highest) of each grid position; NaN where the ball does
    not fit.

    Args:
        world_model: encodes the images (rendered at its image size by ``env``).
        env: the arena, reset once (it renders the ball at each position).
        goal: (2,) the goal position.
        xs: (n,) grid coordinates, used for both axes.

    Returns:
        (n, n) array, rows from top (high y) to bottom.
    """
    points = [np.array([x, y]) for y in xs[::-1] for x in xs]
    free = np.array([is_clear(p, env.walls, env.ball_radius) for p in points])
    z = observed_visual_tokens(world_model, [env.observation_at(p) for p in np.array(points)[free]])
    z_goal = observed_visual_tokens(world_model, [env.observation_at(goal)])
    energy = (z - z_goal).square().mean(dim=(1, 2)).numpy()
    ranks = np.full(len(points), np.nan)
    ranks[free] = energy.argsort().argsort() / max(1, len(energy) - 1)
    return ranks.reshape(len(xs), len(xs))
