"""Stored frames to network images: the one conversion every training loop makes."""

from __future__ import annotations

import numpy as np
import torch


def frames_to_images(frames: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """(B, H, W, 3) uint8 frames, as datasets and environments store them -> (B, 3, H, W)
    float images in [0, 1] on ``device``."""
    return torch.from_numpy(frames).to(device).permute(0, 3, 1, 2).float() / 255.0
