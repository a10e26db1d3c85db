"""One plan of a receding-horizon controller: the planner's search and the plans it must beat.

Both controllers (`MPCController`, `AsyncController`) plan through `controller_plan`: the
planner searches from its starting estimate, scoring besides its own samples the null plan
(the middle of the bounds: doing nothing) and the world model's goal policy's plan
(`planner.policy_prior`), and a plan it would execute gives way to one of those unless it beats
that one's energy by a margin (a conservative controller: a model's error makes up small
predicted gains). Which of them, and the margins, are a controller's `Fallbacks`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

import torch
from torch import Tensor

from planner.base import Planner
from planner.errors import PlannerArgumentError
from planner.latent_energy import BoundEnergy
from planner.policy_prior import policy_plan
from planner.result import PlanResult

PolicyPrior = Literal["candidate", "warm_start", "only"]


@dataclass(frozen=True)
class Fallbacks:
    """The plans a controller's search is scored against, and the margins by which it must beat
    them (the controllers' options of these names; checked on construction).

    Attributes:
        null_candidate: score the null plan (the middle of the bounds at every block).
        null_margin: execute the null plan unless the chosen plan beats its energy by more
            than this fraction of it, 0 <= m < 1 (with `null_candidate`).
        policy_prior: the world model's goal policy's plan is scored ("candidate"), also starts
            the search ("warm_start"), or is the plan, unsearched ("only"); None: no policy.
        policy_margin: execute the policy's plan unless the best plan beats its energy by more
            than this fraction of it, 0 <= m < 1 (with "candidate" or "warm_start"); checked
            before the null plan's margin.

    Raises:
        PlannerArgumentError: naming the setting.
    """

    null_candidate: bool = False
    null_margin: float = 0.0
    policy_prior: PolicyPrior | None = None
    policy_margin: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.null_margin < 1.0:
            raise PlannerArgumentError(f"null_margin must be in [0, 1), got {self.null_margin}")
        if self.null_margin and not self.null_candidate:
            raise PlannerArgumentError("null_margin > 0 needs null_candidate=True")
        if self.policy_prior not in (None, *get_args(PolicyPrior)):
            raise PlannerArgumentError(
                "policy_prior must be None, 'candidate', 'warm_start' or 'only', got "
                f"{self.policy_prior!r}"
            )
        if not 0.0 <= self.policy_margin < 1.0:
            raise PlannerArgumentError(f"policy_margin must be in [0, 1), got {self.policy_margin}")
        if self.policy_margin and self.policy_prior not in ("candidate", "warm_start"):
            raise PlannerArgumentError(
                "policy_margin > 0 needs policy_prior='candidate' or 'warm_start', got "
                f"{self.policy_prior!r}"
            )

    def check_world_model(self, world_model: Any) -> None:
        """Refuses a `policy_prior` for a world model without a goal policy.

        Raises:
            PlannerArgumentError: naming the setting and how to train the policy.
        """
        if self.policy_prior is not None and getattr(world_model, "goal_policy", None) is None:
            raise PlannerArgumentError(
                f"policy_prior={self.policy_prior!r} needs the world model's goal policy "
                "(<world model>/goal_policy: wmplan-train mode=goal_policy out=<world model>)"
            )


def unless_gain(
    result: PlanResult, energy: BoundEnergy, fallback: Tensor, margin: float
) -> PlanResult:
    """``result`` with the ``fallback`` plan (B, H, A: the null plan, or the goal policy's) and
    its cost in place of the problems whose best plan beats the fallback's energy by no more
    than the fraction ``margin`` of it; the planner's carried sequences stay."""
    with torch.no_grad():
        fallback_cost = energy(fallback[:, None])[:, 0]  # (B,)
    keep = result.cost > fallback_cost - margin * fallback_cost.abs()  # too little gain
    return replace(
        result,
        actions=torch.where(keep[:, None, None], fallback, result.actions),
        cost=torch.where(keep, fallback_cost, result.cost),
    )


def controller_plan(
    planner: Planner,
    energy: BoundEnergy,
    init: Tensor,
    fallbacks: Fallbacks,
    *,
    world_model: Any = None,
    z_hist: Tensor | None = None,
    z_goal: Tensor | None = None,
    past_actions: Tensor | None = None,
    **search: Any,
) -> PlanResult:
    """One controller plan.

    Args:
        planner: the search, over (B, H, K * A) blocks.
        energy: the bound energy of this plan (its history and goal).
        init: (B, H, K * A) the starting estimate (the previous plan shifted, or the planner's
            default).
        fallbacks: the null and goal-policy plans scored, and their margins.
        world_model, z_hist, z_goal, past_actions: what the policy's plan is rolled out from
            (with a `policy_prior`): the model, (B, T, P, D) history, (B, P, D) goal and
            optional (B, T - 1, K * A) blocks between the history frames.
        **search: the rest of `planner.plan`'s arguments (generator, time budget, carried
            sequences, iteration cap).

    Returns:
        The plan to execute, (B, H, K * A) inside the bounds, with its cost.
    """
    batch_size = init.shape[0]
    null = None  # or (B, 1, H, K * A)
    if fallbacks.null_candidate:
        null = planner.default_init(batch_size, init.device)[:, None]
    candidates, prior = null, None  # (B, C, H, K * A), (B, H, K * A)
    if fallbacks.policy_prior is not None:
        prior = policy_plan(world_model, world_model.goal_policy, z_hist, z_goal, planner.horizon,
                            planner.low, planner.high, past_actions)  # fmt: skip
        candidates = prior[:, None] if null is None else torch.cat([null, prior[:, None]], 1)
        if fallbacks.policy_prior == "warm_start":
            init = prior
    if fallbacks.policy_prior == "only":
        with torch.no_grad():
            cost = energy(prior[:, None])[:, 0]
        return PlanResult(prior, cost, {"best_cost": cost[:, None], "policy_only": True})
    result = planner.plan(energy, batch_size=batch_size, init=init, candidates=candidates, **search)
    if fallbacks.policy_margin:
        result = unless_gain(result, energy, prior, fallbacks.policy_margin)
    if fallbacks.null_margin:
        result = unless_gain(result, energy, null[:, 0], fallbacks.null_margin)
    return result
