"""Goal distance along a limited hinge joint, read from the proprio token.

A joint angle enters proprioception as (cos q, sin q) so that an unlimited joint stays
continuous as it turns round; the goal distance on those entries (`GoalDistance` with
``tokens=[-1]``) is then the chord between the two points on the circle. For a joint with
limits inside (-pi, pi) that chord is wrong near the limits: a goal just across the limit
(q = 2.7 against q_goal = -2.7 rad with limits +-2.8) is close on the circle, and pushing the
joint into its stop shortens the chord, so planning settles at the stop while the only way
there is 5.4 rad the other way round. On a limited joint, atan2(sin q, cos q) recovers q
exactly and |q - q_goal| measures the way the joint can actually go.

The proprio token holds z-scored proprioception (``worldmodels.world_model``), so this cost
needs the world model's statistics: it is configured without them and bound to a model by
`LatentEnergy` (`for_world_model`).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from planner.energy import step_slice
from planner.errors import EnergyError
from planner.proprio_token import ProprioReader


class JointAngleDistance:
    """Squared difference |q - q_goal|^2 of one limited hinge joint's angle, q recovered as
    atan2(sin q, cos q) from the proprio token (the last token) of predicted and goal states.

    Args:
        cos_entry: index of cos q in the proprioceptive vector.
        sin_entry: index of sin q in the proprioceptive vector.
        reduction: "last" scores the final predicted step, "all" averages over the steps.
    """

    def __init__(
        self, cos_entry: int, sin_entry: int, reduction: Literal["last", "all"] = "all"
    ) -> None:
        for name, entry in (("cos_entry", cos_entry), ("sin_entry", sin_entry)):
            if isinstance(entry, bool) or not isinstance(entry, int) or entry < 0:
                raise EnergyError(f"{name} must be an integer >= 0, got {entry!r}")
        if cos_entry == sin_entry:
            raise EnergyError(f"cos_entry and sin_entry must differ, both are {cos_entry}")
        self._steps = step_slice(reduction)
        self.entries = [cos_entry, sin_entry]
        self.reduction = reduction
        self._proprio: ProprioReader | None = None  # raw (cos, sin), once bound

    def for_world_model(self, world_model: object) -> JointAngleDistance:
        """This cost reading the proprio token of ``world_model``: a new, bound instance.

        Raises:
            EnergyError: the model takes no proprioception, or too little for the entries.
        """
        bound = JointAngleDistance(*self.entries, reduction=self.reduction)
        bound._proprio = ProprioReader.of(world_model, self.entries, "JointAngleDistance")
        return bound

    def angle(self, z: Tensor) -> Tensor:
        """The joint angle (...,) in (-pi, pi] of latent states (..., P, D)."""
        if self._proprio is None:
            raise EnergyError(
                "JointAngleDistance is not bound to a world model: use it through LatentEnergy "
                "(or call for_world_model) so that it knows the proprio statistics"
            )
        raw = self._proprio(z)  # (..., 2) raw (cos, sin)
        return torch.atan2(raw[..., 1], raw[..., 0])

    def __call__(self, z_pred: Tensor, z_goal: Tensor, actions: Tensor) -> Tensor:
        """See `planner.energy.Cost`: (B, N, H, P, D), (B, P, D), (B, N, H, A) -> (B, N)."""
        q = self.angle(z_pred[:, :, self._steps])  # (B, N, 1 or H)
        q_goal = self.angle(z_goal)[:, None, None]  # (B, 1, 1)
        return (q - q_goal).square().mean(dim=2)
