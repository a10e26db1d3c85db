"""The world-model interfaces the planner package plans with.

Two Protocols, each exactly as wide as what its user calls: `LatentDynamics` for the energy
(`LatentEnergy`: a rollout on the model's device), `PlanningWorldModel` for the controller
(`MPCController`: also the encoder, the proprioception it takes and its frame skip). Any
object with these members plans; ``worldmodels.WorldModel`` is one.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor


@runtime_checkable
class LatentDynamics(Protocol):
    """A latent dynamics model: predicts embeddings under candidate action sequences."""

    @property
    def device(self) -> torch.device:
        """Where the model's parameters live; planning tensors are put there."""
        ...

    def rollout(
        self, z_hist: Tensor, actions: Tensor, past_actions: Tensor | None = None
    ) -> Tensor:
        """Predicts embeddings under candidate action sequences.

        Args:
            z_hist: (B, T, P, D) embeddings of the last T observations.
            actions: (B, N, H, A) candidate action sequences.
            past_actions: optional (B, T-1, A) actions taken between the history frames;
                without them the model may use the last frame alone.

        Returns:
            (B, N, H, P, D) predicted embeddings after each action.
        """
        ...


@runtime_checkable
class PlanningWorldModel(LatentDynamics, Protocol):
    """A frozen encoder plus a latent dynamics predictor, as the controller uses it."""

    @property
    def proprio_dim(self) -> int:
        """p, the proprioceptive values per frame the model takes; 0 for pixels only."""
        ...

    @property
    def frameskip(self) -> int:
        """K >= 1, environment steps per predicted frame: an action of `rollout` is a block
        of K raw actions, time-major ((K * A,) for raw actions of dim A)."""
        ...

    def encode(self, pixels: Tensor, proprio: Tensor | None = None) -> Tensor:
        """Encodes frames into patch embeddings.

        Args:
            pixels: (B, T, H, W, 3) uint8, or (B, T, 3, H, W) uint8 or float in [0, 1]; the
                model handles the layout. The controller passes (B, T, H, W, 3) uint8.
            proprio: (B, T, p) proprioception, passed by the controller exactly when
                ``proprio_dim > 0`` (a pixels-only model is called with the pixels alone).

        Returns:
            (B, T, P, D) embeddings.
        """
        ...
