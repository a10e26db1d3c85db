"""Observations as the planner receives them (a mapping with "pixels" and, for a model that
takes proprioception, "proprio"; or the pixels alone), checked and encoded as latent frames."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from planner.errors import ObservationError
from planner.world_model import PlanningWorldModel


def observation_pixels(obs: Any, device: torch.device) -> Tensor:
    """Extracts the image of an observation as a uint8 tensor on `device`.

    Args:
        obs: a mapping with "pixels", or the pixels themselves: (H, W, 3) or (B, H, W, 3)
            uint8, as a numpy array or a tensor.
        device: where to put them.

    Returns:
        (H, W, 3) or (B, H, W, 3) uint8 tensor, as given.
    """
    image = obs["pixels"] if isinstance(obs, Mapping) else obs
    if isinstance(image, np.ndarray):
        image = np.ascontiguousarray(image)  # rendered frames may have negative strides
    pixels = torch.as_tensor(image, device=device)
    if pixels.dtype != torch.uint8 or pixels.ndim not in (3, 4) or pixels.shape[-1] != 3:
        raise ObservationError(
            "pixels must be uint8 of shape (H, W, 3) or (B, H, W, 3), "
            f"got {pixels.dtype} of shape {tuple(pixels.shape)}"
        )
    return pixels


def _proprio(obs: Any, n_values: int, device: torch.device) -> Tensor | None:
    """The proprioception of an observation, (p,) or (B, p), for a model taking ``n_values``.

    Returns None when the model takes none (``n_values == 0``).

    Raises:
        ObservationError: no proprio, or not numbers of that shape, or NaN or inf in it.
    """
    if not n_values:
        return None
    if not isinstance(obs, Mapping) or "proprio" not in obs:
        raise ObservationError(
            f"this world model takes proprioception ({n_values} values); pass observations "
            "as mappings with 'pixels' and 'proprio'"
        )
    try:
        values = np.asarray(obs["proprio"], dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ObservationError(f"proprio must be numbers, got {obs['proprio']!r}") from err
    if values.shape[-1:] != (n_values,) or values.ndim not in (1, 2):
        raise ObservationError(
            f"proprio must be (p,) or (B, p) with p={n_values}, got shape {values.shape}"
        )
    if not np.isfinite(values).all():
        rows = np.flatnonzero(~np.isfinite(values.reshape(-1, n_values)).all(axis=1))
        raise ObservationError(
            f"proprio must be finite, got NaN or inf in observation(s) {rows.tolist()}: "
            f"{values.tolist()}"
        )
    return torch.as_tensor(values, device=device)


def encode_observation(world_model: PlanningWorldModel, pixels: Tensor, obs: Any) -> Tensor:
    """Encodes an observation (or a batch) as one frame, without autograd.

    Args:
        world_model: its encoder, with the proprioception when its `proprio_dim` > 0.
        pixels: (H, W, 3) or (B, H, W, 3) uint8, the image of `obs` (`observation_pixels`).
        obs: the observation, for its proprioception if the world model takes it.

    Returns:
        z (B, 1, P, D).
    """
    proprio = _proprio(obs, world_model.proprio_dim, world_model.device)
    batched = pixels if pixels.ndim == 4 else pixels[None]  # (B, H, W, 3)
    with torch.no_grad():
        if proprio is None:
            return world_model.encode(batched[:, None])
        proprio = proprio if proprio.ndim == 2 else proprio[None]  # (B, p)
        return world_model.encode(batched[:, None], proprio[:, None])
