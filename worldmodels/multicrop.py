"""Multi-crop views for self-distillation (Caron et al. 2020, SwAV; used by DINO, 2021)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_resized_crops(
    images: torch.Tensor,
    generator: torch.Generator,
    size: int,
    scale: tuple[float, float],
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> torch.Tensor:
    """One random resized crop per image, resampled bilinearly to ``size x size``.

    The crop covers a fraction of the image area drawn uniformly from ``scale``,
    with an aspect ratio drawn log-uniformly from ``ratio``, at a uniform
    position inside the image (torchvision's ``RandomResizedCrop``, batched).

    Args:
        images: (B, 3, H, W) float images.
        generator: random source (same seed -> same crops).
        size: output side in pixels.
        scale: (min, max) fraction of the image area, in (0, 1].
        ratio: (min, max) aspect ratio width / height.

    Returns:
        (B, 3, size, size) crops.
    """
    if not 0 < scale[0] <= scale[1] <= 1:
        raise ValueError(f"scale must satisfy 0 < min <= max <= 1, got {scale}")
    B = images.shape[0]
    dev = images.device

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(B, generator=generator, device=dev)

    area = uniform(*scale)
    aspect = torch.exp(uniform(math.log(ratio[0]), math.log(ratio[1])))
    width = torch.sqrt(area * aspect).clamp(max=1.0)  # fraction of the image width
    height = torch.sqrt(area / aspect).clamp(max=1.0)
    # affine_grid works in [-1, 1] coordinates: a crop of fractional width w is centred
    # anywhere in [-(1 - w), 1 - w]
    cx = uniform(-1.0, 1.0) * (1 - width)
    cy = uniform(-1.0, 1.0) * (1 - height)
    theta = torch.zeros(B, 2, 3, device=dev, dtype=images.dtype)
    theta[:, 0, 0], theta[:, 0, 2] = width, cx
    theta[:, 1, 1], theta[:, 1, 2] = height, cy
    grid = F.affine_grid(theta, [B, 3, size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
