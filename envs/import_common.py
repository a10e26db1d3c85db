"""What the dataset importers (LeRobot, Minari) share: the check of their target and square
frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from envs.dataset import episode_files


def check_import_target(out: Path, image_size: int) -> None:
    """Raises unless ``out`` holds no episodes yet and ``image_size`` is positive."""
    if image_size < 1:
        raise ValueError(f"image_size must be >= 1, got {image_size}")
    if episode_files(out):
        raise FileExistsError(f"{out} already holds episodes; import into a new directory")


def square_resize(frame: np.ndarray, size: int, center_crop: bool = True) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, size, 3) uint8, optionally cropping the central square first."""
    height, width = frame.shape[:2]
    if center_crop and height != width:
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        frame = frame[top : top + side, left : left + side]
    if frame.shape[:2] == (size, size):
        return np.ascontiguousarray(frame)
    image = Image.fromarray(frame).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(image)
