"""frames_to_images: uint8 (B, H, W, 3) frames -> float (B, 3, H, W) images in [0, 1]."""

from __future__ import annotations

import numpy as np
import torch

from worldmodels.frames import frames_to_images


def test_channels_move_first_and_values_scale_to_the_unit_interval() -> None:
    frames = np.zeros((2, 3, 4, 3), np.uint8)
    frames[1, 2, 3] = [255, 51, 0]  # one pixel of the second frame
    images = frames_to_images(frames)
    assert images.shape == (2, 3, 3, 4) and images.dtype == torch.float32
    torch.testing.assert_close(images[1, :, 2, 3], torch.tensor([1.0, 0.2, 0.0]))
    assert abs(images.sum().item() - 1.2) < 1e-6  # every other entry is 0
