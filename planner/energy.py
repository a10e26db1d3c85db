"""Small composable costs on predicted embeddings and actions.

Following stable-worldmodel's cost modules (`GoalMSE`, `WeightedSum`): the goal distance and
each guardrail are small callables, summed with weights, so adding a cost never needs a
subclass of the world model. All costs are minimised.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from torch import Tensor


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


class GoalDistance:
    """Mean squared error between predicted and goal embeddings (DINO-WM's planning objective,
    Zhou et al. 2024), averaged over patches and embedding dimensions.

    `reduction="last"` scores the final predicted step only; `"all"` averages over all steps.
    """

    def __init__(self, reduction: Literal["last", "all"] = "last") -> None:
        if reduction not in ("last", "all"):
            raise ValueError(f"reduction must be 'last' or 'all', got {reduction!r}")
        self.reduction = reduction
        self._steps = slice(-1, None) if reduction == "last" else slice(None)

    def __call__(self, z_pred: Tensor, z_goal: Tensor, actions: Tensor) -> Tensor:
        """See `Cost`; returns (B, N)."""
        z_scored = z_pred[:, :, self._steps]  # (B, N, 1 or H, P, D)
        return (z_scored - z_goal[:, None, None]).square().mean(dim=(2, 3, 4))


class ActionMagnitude:
    """Guardrail: mean squared action, favouring small, energy-saving commands."""

    def __call__(self, z_pred: Tensor, z_goal: Tensor, actions: Tensor) -> Tensor:
        """See `Cost`; returns (B, N)."""
        return actions.square().mean(dim=(2, 3))


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

    def __call__(self, z_pred: Tensor, z_goal: Tensor, actions: Tensor) -> Tensor:
        """See `Cost`; returns (B, N)."""
        (first_weight, first_cost), *rest = self.terms
        total = first_weight * first_cost(z_pred, z_goal, actions)
        for weight, cost in rest:
            total = total + weight * cost(z_pred, z_goal, actions)
        return total
