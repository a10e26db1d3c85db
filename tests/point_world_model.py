"""A toy world model with a known optimum, shared by the controller and policy-server tests:
the state is a point in the plane, read from the first pixel of an image, and an action moves it
by itself."""

import numpy as np
import torch

SIZE, LEVELS_PER_UNIT = 8, 20.0  # image side; pixel levels per unit of position


def render(position: np.ndarray) -> np.ndarray:
    """Positions (2,) or (B, 2) -> images (SIZE, SIZE, 3) or (B, SIZE, SIZE, 3) uint8."""
    image = np.zeros((*position.shape[:-1], SIZE, SIZE, 3), dtype=np.uint8)
    image[..., 0, 0, :2] = np.round(position * LEVELS_PER_UNIT + 128)
    return image


class PointWorldModel:
    device = torch.device("cpu")
    proprio_dim = 0
    frameskip = 1

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, T, H, W, 3) uint8 -> (B, T, 1, 2)."""
        return ((pixels[..., 0, 0, :2].float() - 128) / LEVELS_PER_UNIT)[:, :, None]

    def rollout(self, z_hist: torch.Tensor, actions: torch.Tensor, past_actions=None):
        """(B, T, 1, 2), (B, N, H, 2) -> (B, N, H, 1, 2); the last frame alone."""
        return z_hist[:, -1, None, None] + actions.cumsum(dim=2)[..., None, :]
