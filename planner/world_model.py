"""The world-model interface the controller plans with."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor


class WorldModel(Protocol):
    """A frozen encoder plus a latent dynamics predictor.

    Attributes:
        device: where the model's parameters live; the controller puts observations there.

    A model may also have ``proprio_dim`` (int): when it is > 0, the controller passes the
    observations' proprioception to ``encode`` as ``proprio`` (B, T, p).
    """

    device: torch.device

    def encode(self, pixels: Tensor) -> Tensor:
        """Encodes frames into patch embeddings.

        Args:
            pixels: (B, T, H, W, 3) uint8, or (B, T, 3, H, W) uint8 or float in [0, 1]; the
                model handles the layout. The controller passes (B, T, H, W, 3) uint8.

        Returns:
            (B, T, P, D) embeddings.
        """
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
