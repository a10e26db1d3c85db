"""Goal distance in steps to go: the world model's temporal-distance head as an energy term.

The latent goal distance (`GoalDistance`) says how different a predicted frame looks from the
goal; in a maze it is close to the distance across the walls, and its minima lie in dead ends.
A temporal-distance head (``worldmodels.temporal_distance``, HILP: Park, Kreiman, Levine 2024)
embeds latent states so that Euclidean distance counts the steps between them along the logged
trajectories; ||phi(z_pred) - phi(z_goal)|| then falls along the way round the walls. The head
belongs to the world model (``<world model>/temporal_distance``, `wmplan-train
mode=temporal_distance`), so the cost is configured without it and bound to a model by
`LatentEnergy` (`for_world_model`).
"""

from __future__ import annotations

from typing import Literal, Protocol

from torch import Tensor

from planner.energy import step_slice
from planner.errors import EnergyError


class DistanceHead(Protocol):
    """What `TemporalDistance` reads from a world model: its head's distance."""

    def distance(self, a: Tensor, b: Tensor) -> Tensor:
        """(..., P, D) and broadcastable (..., P, D) latent states -> (...) steps apart."""
        ...


class TemporalDistance:
    """Steps from each predicted state to the goal, by the world model's temporal-distance head.

    Args:
        reduction: "last" scores the final predicted step, "all" averages over the steps.
    """

    def __init__(self, reduction: Literal["last", "all"] = "last") -> None:
        self._steps = step_slice(reduction)
        self.reduction = reduction
        self.head: DistanceHead | None = None

    def for_world_model(self, world_model: object) -> TemporalDistance:
        """This cost with ``world_model``'s head: a new, bound instance.

        Raises:
            EnergyError: the world model has no temporal-distance head.
        """
        head = getattr(world_model, "temporal_distance", None)
        if head is None:
            raise EnergyError(
                "TemporalDistance needs the world model's temporal-distance head "
                "(<world model>/temporal_distance: wmplan-train mode=temporal_distance "
                "out=<world model>)"
            )
        bound = TemporalDistance(self.reduction)
        bound.head = head
        return bound

    def __call__(self, z_pred: Tensor, z_goal: Tensor, actions: Tensor) -> Tensor:
        """See `planner.energy.Cost`; returns (B, N)."""
        if self.head is None:
            raise EnergyError(
                "TemporalDistance is not bound to a world model; build the energy with "
                "LatentEnergy, which binds it (for_world_model)"
            )
        scored = z_pred[:, :, self._steps]  # (B, N, 1 or H, P, D)
        return self.head.distance(scored, z_goal[:, None, None]).mean(dim=2)
