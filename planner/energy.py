"""Small composable costs on predicted embeddings and actions.

Following stable-worldmodel's cost modules (`GoalMSE`, `WeightedSum`): the goal distance and
each guardrail are small callables, summed with weights, so adding a cost never needs a
subclass of the world model. All costs are minimised.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from torch import Tensor

from planner.errors import EnergyError, check_indices


class Cost(Protocol):
    """A cost on a batch of imagined rollouts."""

    def __call__(self, z_pred: Tensor, z_goal: Tensor, actions: Tensor) -> Tensor:
        """Scores candidates.

        Args:
            z_pred: (B, N, H, P, D) predicted embeddings, one per step of each candidate.
            z_goal: (B, P, D) goal embedding.
            actions: (B, N, H, A) the candidate action sequences.

        Returns:
            (B, N) costs; lower is better.
        """
        ...


def step_slice(reduction: str) -> slice:
    """The predicted steps a cost scores: the final one (``"last"``) or all (``"all"``).

    Raises:
        EnergyError: any other ``reduction``.
    """
    if reduction not in ("last", "all"):
        raise EnergyError(f"reduction must be 'last' or 'all', got {reduction!r}")
    return slice(-1, None) if reduction == "last" else slice(None)


class GoalDistance:
    """Mean squared error between predicted and goal embeddings (DINO-WM's planning objective,
    Zhou et al. 2024), averaged over the scored tokens and embedding dimensions.

    `reduction="last"` scores the final predicted step only; `"all"` averages over all steps.
    `tokens` picks the scored tokens by index (negative from the end), all of them by default:
    with a proprio token last (a world model with ``proprio_dim > 0``), ``tokens=[-1]`` scores
    the proprioception alone, DINO-WM's separate proprio term weighted by ``alpha``.
    `features` picks embedding dimensions within the scored tokens (all by default): with a
    keypoint token, the (x, y) pairs of the object's keypoints, leaving out keypoints of the
    static scene or of the agent (which the goal image shows at rest, so a plan that moves the
    agent mid-task is charged for it).

    `saturation` caps each step's distance before the steps are averaged: with a small cap,
    `"all"` counts the steps spent away from the goal (a time-to-reach cost, as a sparse
    per-step reward gives) rather than how far away they are, so a plan that first moves
    away (around a wall) to arrive sooner is not charged for the detour, while a plan that
    lingers or leaves the goal still is.
    """

    def __init__(
        self,
        reduction: Literal["last", "all"] = "last",
        tokens: Sequence[int] | None = None,
        saturation: float | None = None,
        features: Sequence[int] | None = None,
    ) -> None:
        self._steps = step_slice(reduction)
        self.tokens = check_indices("tokens", tokens, "token indices")
        self.features = check_indices("features", features, "dimensions", nonnegative=True)
        if saturation is not None and not saturation > 0:
            raise EnergyError(f"saturation must be a number > 0 or None, got {saturation!r}")
        self.reduction = reduction
        self.saturation = saturation

    def __call__(self, z_pred: Tensor, z_goal: Tensor, actions: Tensor) -> Tensor:
        """See `Cost`; returns (B, N)."""
        z_scored = z_pred[:, :, self._steps]  # (B, N, 1 or H, P, D)
        z_target = z_goal[:, None, None]  # (B, 1, 1, P, D)
        if self.tokens is not None:
            n_tokens = z_pred.shape[3]
            if not all(-n_tokens <= t < n_tokens for t in self.tokens):
                raise ValueError(f"tokens {self.tokens} out of range for {n_tokens} tokens")
            z_scored, z_target = z_scored[..., self.tokens, :], z_target[..., self.tokens, :]
        if self.features is not None:
            if max(self.features) >= z_pred.shape[4]:
                raise ValueError(
                    f"features {self.features} out of range for dimension {z_pred.shape[4]}"
                )
            z_scored, z_target = z_scored[..., self.features], z_target[..., self.features]
        per_step = (z_scored - z_target).square().mean(dim=(3, 4))  # (B, N, 1 or H)
        if self.saturation is not None:
            per_step = per_step.clamp(max=self.saturation)
        return per_step.mean(dim=2)


class ActionMagnitude:
    """Guardrail: mean squared action, favouring small, energy-saving commands."""

    def __call__(self, z_pred: Tensor, z_goal: Tensor, actions: Tensor) -> Tensor:
        """See `Cost`; returns (B, N)."""
        return actions.square().mean(dim=(2, 3))


def for_world_model(cost: Cost, world_model: object) -> Cost:
    """``cost`` bound to the world model it scores, for costs that read the model (such as
    `planner.joint_angle.JointAngleDistance`, which needs its proprio statistics); any other
    cost is returned as it is."""
    bind = getattr(cost, "for_world_model", None)
    return cost if bind is None else bind(world_model)


class WeightedSum:
    """Sum of costs with fixed weights: sum_i weight_i * cost_i."""

    def __init__(self, terms: Sequence[tuple[float, Cost]]) -> None:
        """Stores the terms.

        Args:
            terms: (weight, cost) pairs, at least one.
        """
        if not terms:
            raise ValueError(f"terms must hold at least one (weight, cost) pair, got {terms!r}")
        self.terms = tuple((float(weight), cost) for weight, cost in terms)

    def for_world_model(self, world_model: object) -> WeightedSum:
        """The same sum with every term bound to ``world_model`` (`for_world_model`)."""
        return WeightedSum([(w, for_world_model(cost, world_model)) for w, cost in self.terms])

    def __call__(self, z_pred: Tensor, z_goal: Tensor, actions: Tensor) -> Tensor:
        """See `Cost`; returns (B, N)."""
        (first_weight, first_cost), *rest = self.terms
        total = first_weight * first_cost(z_pred, z_goal, actions)
        for weight, cost in rest:
            total = total + weight * cost(z_pred, z_goal, actions)
        return total
