"""Pessimism where the world model is unsure: the disagreement of an ensemble of predictors.

An optimiser finds the plans a learned model gets wrong in its favour (a grasp that misses,
predicted to lift the object). Models trained alike from different seeds agree where the data
pins the dynamics down and disagree away from it, so their disagreement is a cheap measure of
the model's error there: PETS plans through an ensemble (Chua et al., "Deep Reinforcement
Learning in a Handful of Trials using Probabilistic Dynamics Models", NeurIPS 2018), and
MOPO (Yu et al. 2020) and MOReL (Kidambi et al. 2020) charge the disagreement as a cost.

`EnsembleDisagreement` is that cost on the world model's own rollout. The members (the
checkpoint's ``ensemble/``, `worldmodels.checkpoint`) continue the plan from the world model's
first predicted frame under the plan's later actions, and the cost is the mean squared
difference between each member's frames and the world model's, on the scored tokens. The
first block from the observed frame is the world model's alone (the cost sees predictions,
not the history); with more than one history frame (``num_hist`` > 1) the members continue
from that frame without the earlier ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch import Tensor

from planner.energy import step_slice
from planner.errors import EnergyError, check_indices


class EnsembleDisagreement:
    """mean over members m of |z_m - z|^2 on the scored tokens, per predicted step after the
    first, of a world model with an ensemble (``world_model.ensemble``).

    Args:
        reduction: "all" averages over the steps, "last" scores the plan's end.
        tokens: the scored tokens by index (negative from the end); all by default.
    """

    def __init__(
        self, reduction: Literal["last", "all"] = "all", tokens: Sequence[int] | None = None
    ) -> None:
        self._steps = step_slice(reduction)
        self.reduction = reduction
        self.tokens = check_indices("tokens", tokens, "token indices")
        self._members: tuple = ()  # the world model's ensemble, once bound

    def for_world_model(self, world_model: object) -> EnsembleDisagreement:
        """This cost rolling out ``world_model``'s ensemble: a new, bound instance.

        Raises:
            EnergyError: the world model has no ensemble.
        """
        members = tuple(getattr(world_model, "ensemble", ()))
        if not members:
            raise EnergyError(
                "EnsembleDisagreement needs a world model with an ensemble (predictors in its "
                "checkpoint's ensemble/ directory: wmplan-train mode=predictor seed=<other> "
                "out=<world model>/ensemble/<name>)"
            )
        bound = EnsembleDisagreement(self.reduction, self.tokens)
        bound._members = members
        return bound

    def __call__(self, z_pred: Tensor, z_goal: Tensor, actions: Tensor) -> Tensor:
        """See `planner.energy.Cost`: (B, N, H, P, D), (B, P, D), (B, N, H, A) -> (B, N)."""
        if not self._members:
            raise EnergyError(
                "EnsembleDisagreement is not bound to a world model: use it through "
                "LatentEnergy (or call for_world_model) so that it knows the ensemble"
            )
        B, N, H, P, D = z_pred.shape
        if H < 2:
            raise EnergyError("EnsembleDisagreement needs plans of at least 2 steps, got 1")
        start = z_pred[:, :, 0].reshape(B * N, 1, P, D)  # each candidate's first frame
        later = actions[:, :, 1:].reshape(B * N, 1, H - 1, actions.shape[-1])
        reference = z_pred[:, :, 1:]  # (B, N, H-1, P, D)
        tokens = slice(None) if self.tokens is None else self.tokens
        total = z_pred.new_zeros(B, N)
        for member in self._members:
            z_member = member.rollout(start, later).view(B, N, H - 1, P, D)
            gap = (z_member - reference)[..., tokens, :].square().mean(dim=(3, 4))  # (B, N, H-1)
            total = total + gap[:, :, self._steps].mean(dim=2)
        return total / len(self._members)
