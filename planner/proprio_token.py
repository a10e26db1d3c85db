"""Raw proprioception read back from a world model's proprio token.

A world model that takes proprioception appends a token per frame holding the z-scored values
times ``proprio_scale`` (`worldmodels.world_model`), the last token. Costs that read the
agent's state from predictions (`planner.joint_angle.JointAngleDistance`,
`planner.agent_reach.AgentReach`) undo that with the model's statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor

from planner.errors import EnergyError


@dataclass(frozen=True)
class ProprioReader:
    """``mean + token[entries] * std / scale``: raw proprio values from latent states.

    Attributes:
        entries: the proprio entries read, in order.
        mean: (len(entries),) the world model's raw proprio mean of those entries.
        std_over_scale: (len(entries),) their std divided by the model's ``proprio_scale``.
    """

    entries: list[int]
    mean: Tensor
    std_over_scale: Tensor

    @staticmethod
    def of(world_model: object, entries: Sequence[int], reader: str) -> ProprioReader:
        """The reader of ``entries`` of ``world_model``'s proprio token.

        Args:
            reader: the cost's name, for the error.

        Raises:
            EnergyError: the model takes no proprioception, or too little for ``entries``.
        """
        p = getattr(world_model, "proprio_dim", 0)
        entries = list(entries)
        if not p or max(entries) >= p:
            raise EnergyError(
                f"{reader} reads proprio entries {entries}; the world model takes {p} "
                "proprioceptive values"
            )
        mean, std = world_model.proprio_mean, world_model.proprio_std  # type: ignore[attr-defined]
        scale = world_model.proprio_scale  # type: ignore[attr-defined]
        return ProprioReader(entries, mean[entries].float(), std[entries].float() / scale)

    def __call__(self, z: Tensor) -> Tensor:
        """(..., P, D) latent states -> (..., len(entries)) raw proprio values."""
        token = z[..., -1, self.entries]
        return self.mean.to(z) + token * self.std_over_scale.to(z)
