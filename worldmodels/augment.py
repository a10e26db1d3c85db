"""Batched image augmentations for self-supervised encoder pretraining."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def augment(
    images: torch.Tensor,
    generator: torch.Generator,
    max_shift: int = 3,
    brightness: float = 0.2,
    noise_std: float = 0.02,
) -> torch.Tensor:
    """Random translation, brightness/colour jitter and pixel noise, per image.

    Args:
        images: (B, 3, H, W) float in [0, 1].
        generator: random source (same seed -> same views).
        max_shift: largest translation in pixels (border pixels are replicated).
        brightness: relative brightness jitter; colour offsets are a quarter of it.
        noise_std: std of additive Gaussian pixel noise.

    Returns:
        (B, 3, H, W) augmented images in [0, 1].
    """
    B, _, H, W = images.shape
    dev = images.device

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator, device=dev) * 2 - 1

    shift = torch.randint(0, 2 * max_shift + 1, (B, 2), generator=generator, device=dev)
    padded = F.pad(images, (max_shift,) * 4, mode="replicate")  # (B, 3, H+2s, W+2s)
    rows = torch.arange(H, device=dev) + shift[:, :1]  # (B, H)
    cols = torch.arange(W, device=dev) + shift[:, 1:]  # (B, W)
    batch = torch.arange(B, device=dev)[:, None, None]
    out = padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    out = out * (1 + brightness * uniform(B, 1, 1, 1)) + brightness / 4 * uniform(B, 3, 1, 1)
    out = out + noise_std * torch.randn(out.shape, generator=generator, device=dev)
    return out.clamp(0.0, 1.0)
