"""Training a keypoint encoder by reconstructing each frame from its keypoints alone.

A deep spatial autoencoder (Finn et al. 2016) with the Gaussian-map decoder of Jakab, Gupta,
Bilen and Vedaldi (2018, "Unsupervised Learning of Object Landmarks through Conditional Image
Generation"): each keypoint is drawn as a Gaussian blob on a map at half the frame's
resolution and a small convolutional decoder paints the frame (average-pooled by 2) from those
maps and two coordinate channels. Two additions for robot scenes:

- the agent comes from the proprioception: more blobs are drawn at the points the encoder's
  agent map places from the proprio (`KeypointEncoder.place_agent`, trained here), so the
  decoder is told where the agent is and the encoder's keypoints are left to the objects the
  agent moves (DINO-WM likewise gives the agent's state as its own token);
  keypoints that still follow the agent (a cubic regression on the proprio explains their
  positions with R^2 above ``agent_r2``) are left out of the encoder's token;
- what differs from the static scene weighs more: the squared error of a pixel weighs
  ``1 + foreground_weight * |frame - background|`` (background: the per-pixel median of the
  training frames), so a small object is not lost against the background it shares the
  image with.

The loop (schedule, checkpoints, exact resume) is `worldmodels.train_loop.train_loop`; the
training state holds the encoder and the decoder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from worldmodels.distributed import require_single_process
from worldmodels.keypoint_encoder import KeypointEncoder
from worldmodels.train_loop import TrainConfig, TrainingTask, train_loop
from worldmodels.vit import imagenet_normalize

logger = logging.getLogger(__name__)

LOG_EVERY = 250  # steps between log rows
BACKGROUND_FRAMES = 2000  # frames whose per-pixel median is the static background
R2_FRAMES = 5000  # frames of the agent-keypoint regression (4/5 fit, 1/5 scored)


@dataclass(frozen=True)
class KeypointTrainConfig(TrainConfig):
    """Settings of :func:`pretrain_keypoints` (besides the loop's); checks itself."""

    steps: int = 10000
    batch_size: int = 64
    sigma: float = 0.08  # std of a keypoint's Gaussian blob, in image coordinates [-1, 1]
    foreground_weight: float = 20.0
    agent_r2: float | None = None  # keypoints the proprio explains above this leave the token
    decoder_channels: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.sigma <= 0 or self.foreground_weight < 0:
            raise ValueError(
                "KeypointTrainConfig needs sigma > 0 and foreground_weight >= 0, got "
                f"{self.sigma} and {self.foreground_weight}"
            )
        if not (self.agent_r2 is None or 0 < self.agent_r2 <= 1):
            raise ValueError(
                f"KeypointTrainConfig needs agent_r2 in (0, 1] or None, got {self.agent_r2}"
            )
        if self.decoder_channels < 1 or self.lr <= 0:
            raise ValueError(
                "KeypointTrainConfig needs decoder_channels >= 1 and lr > 0, got "
                f"{self.decoder_channels} and {self.lr}"
            )


def gaussian_maps(points: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """Blobs exp(-d^2 / 2 sigma^2) at ``points`` (B, n, 2) (x, y in [-1, 1]) -> (B, n, size,
    size), on the grid the encoder's soft-argmax uses."""
    grid = torch.linspace(-1, 1, size, device=points.device, dtype=points.dtype)
    dx = (grid - points[..., 0, None]).square()  # (B, n, size) along x
    dy = (grid - points[..., 1, None]).square()  # along y
    return torch.exp(-(dy[..., :, None] + dx[..., None, :]) / (2 * sigma**2))


class KeypointDecoder(nn.Module):
    """Points (B, n, 2) (the keypoints, then the agent's) -> the frame (B, 3, S/2, S/2) in
    [0, 1], painted from a Gaussian blob per point and two coordinate channels.

    Args:
        n_points: n.
        channels: width of the convolutional layers.
        size: S/2, the side of the maps and of the painted frame.
        sigma: the blobs' std.
    """

    def __init__(self, n_points: int, channels: int, size: int, sigma: float) -> None:
        super().__init__()
        self.size = size
        self.sigma = sigma
        self.paint = nn.Sequential(
            nn.Conv2d(n_points + 2, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, 3, 3, padding=1),
        )

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        maps = gaussian_maps(points, self.size, self.sigma)
        grid = torch.linspace(-1, 1, self.size, device=maps.device, dtype=maps.dtype)
        coords = torch.stack(torch.meshgrid(grid, grid, indexing="xy"))  # (2, size, size): x, y
        return torch.sigmoid(self.paint(torch.cat([maps, coords.expand(len(maps), -1, -1, -1)], 1)))


def pretrain_keypoints(
    encoder: KeypointEncoder,
    frames: np.ndarray,
    proprio: np.ndarray,
    config: KeypointTrainConfig,
    progress: bool = True,
    checkpoint: Path | None = None,
) -> list[dict[str, float]]:
    """Trains ``encoder`` in place to reconstruct ``frames`` from its keypoints, then freezes it.

    Args:
        encoder: the keypoint encoder, trained in place.
        frames: (N, S, S, 3) uint8 square frames, S even.
        proprio: (N, p) each frame's proprioception (p may be 0).
        config: optimisation and reconstruction settings.
        progress: show a progress bar.
        checkpoint: optional training-state file (``.safetensors``), written every
            ``config.checkpoint_every`` steps; a run that finds one resumes from it exactly.

    Returns:
        Log rows (step, loss, keypoint_spread: the keypoints' mean std over a batch, and
        moving_keypoints: how many spread more than 0.05).

    Raises:
        ValueError: frames and proprio of different lengths, odd frame sides, or proprio
            that does not fit the encoder's agent map.
    """
    require_single_process("keypoint pretraining", "one decoder beside the encoder")
    if len(frames) != len(proprio):
        raise ValueError(f"{len(frames)} frames but {len(proprio)} proprio rows")
    proprio = proprio.reshape(len(proprio), -1).astype(np.float32)
    if encoder.agent is not None and proprio.shape[1] != encoder.proprio_dim:
        raise ValueError(
            f"the encoder's agent map reads {encoder.proprio_dim} proprio values, the data has "
            f"{proprio.shape[1]}"
        )
    encoder.patch_grid(frames.shape[1], frames.shape[2])  # even sides
    device = next(encoder.parameters()).device
    size = frames.shape[1] // 2
    if encoder.agent is not None:  # the agent map reads the proprio z-scored by these
        encoder.proprio_mean.copy_(torch.as_tensor(proprio.mean(0)))
        encoder.proprio_std.copy_(torch.as_tensor(proprio.std(0) + 1e-6))
    rng = np.random.default_rng(config.seed)
    sample = np.sort(rng.choice(len(frames), min(BACKGROUND_FRAMES, len(frames)), replace=False))
    background = F.avg_pool2d(_images(frames[sample], device).median(0).values[None], 2)
    n_agent = encoder.agent_points if encoder.agent is not None else 0
    decoder = KeypointDecoder(
        encoder.n_keypoints + n_agent, config.decoder_channels, size, config.sigma
    ).to(device)
    encoder.train().requires_grad_(True)
    trained = nn.ModuleDict({"encoder": encoder, "decoder": decoder})

    def loss(_: nn.Module, index: np.ndarray) -> tuple[torch.Tensor, dict[str, float]]:
        images = _images(frames[index], device)
        points = encoder.keypoints(imagenet_normalize(images))
        if encoder.agent is not None:
            agent = encoder.place_agent(torch.as_tensor(proprio[index], device=device))
            points = torch.cat([points, agent], 1)
        painted = decoder(points)
        target = F.avg_pool2d(images, 2)
        weight = 1 + config.foreground_weight * (target - background).abs().sum(1, keepdim=True)
        mse = (painted - target).square()
        return (weight * mse).mean(), {"mse": mse.mean().item()}

    def diagnose(index: np.ndarray) -> dict[str, float]:
        spread = encoder.keypoints(imagenet_normalize(_images(frames[index], device))).std(0)
        spread = spread.mean(-1)  # (K,)
        return {"keypoint_spread": spread.mean().item(),
                "moving_keypoints": float((spread > 0.05).sum())}  # fmt: skip

    task = TrainingTask(
        name="pretrain keypoints",
        model=trained,
        pool=np.arange(len(frames)),
        loss=loss,
        evaluate=diagnose,
        log_every=LOG_EVERY,
        count_from=1,
        loss_key="loss",
        grad_clip=3.0,
    )
    log = train_loop(config, task, rng, progress, checkpoint)
    encoder.eval().requires_grad_(False)
    if config.agent_r2 is not None and proprio.shape[1]:
        r2 = agent_r2(encoder, frames, proprio, np.random.default_rng(config.seed))
        keep = [k for k, value in enumerate(r2) if value <= config.agent_r2]
        logger.info("keypoints' R^2 from the proprio %s: token keeps %s", np.round(r2, 3), keep)
        if not keep:
            raise ValueError(
                f"every keypoint follows the agent (R^2 from the proprio {np.round(r2, 3)} > "
                f"agent_r2 {config.agent_r2}): nothing is left for the objects"
            )
        encoder.keep = keep
    return log


def agent_r2(
    encoder: KeypointEncoder, frames: np.ndarray, proprio: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """(K,) how well the proprio predicts each keypoint: R^2 of its (x, y) on held-out frames
    (a fifth of up to `R2_FRAMES` sampled ones) by ridge regression on the z-scored proprio's
    monomials up to degree 3, fitted on the other four fifths.

    Args:
        encoder: the trained keypoint encoder.
        frames: (N, S, S, 3) uint8.
        proprio: (N, p) with p >= 1.
        rng: draws the frames.
    """
    index = rng.permutation(len(frames))[:R2_FRAMES]
    device = next(encoder.parameters()).device
    with torch.no_grad():
        points = torch.cat([
            encoder.keypoints(imagenet_normalize(_images(frames[chunk], device))).cpu()
            for chunk in np.array_split(index, max(1, len(index) // 256))
        ]).double()  # (n, K, 2)  # fmt: skip
    z = torch.as_tensor(proprio[index], dtype=torch.float64)
    z = (z - z.mean(0)) / (z.std(0) + 1e-6)
    columns = [torch.ones(len(z), 1, dtype=z.dtype), z]
    for degree in (2, 3):
        combos = torch.combinations(torch.arange(z.shape[1]), degree, with_replacement=True)
        columns.append(z[:, combos].prod(-1))
    features = torch.cat(columns, 1)  # (n, F)
    split = len(index) * 4 // 5
    fit, test = slice(0, split), slice(split, None)
    gram = features[fit].T @ features[fit] + 1e-3 * torch.eye(features.shape[1], dtype=z.dtype)
    targets = points.flatten(1)  # (n, 2K)
    weights = torch.linalg.solve(gram, features[fit].T @ targets[fit])
    error = (features[test] @ weights - targets[test]).square().unflatten(1, (-1, 2)).sum((0, 2))
    spread = (targets[test] - targets[test].mean(0)).square().unflatten(1, (-1, 2)).sum((0, 2))
    return (1 - error / spread.clamp_min(1e-12)).numpy()


def _images(pixels: np.ndarray, device: torch.device) -> torch.Tensor:
    """(B, S, S, 3) uint8 -> (B, 3, S, S) float in [0, 1]."""
    return torch.from_numpy(pixels).to(device).permute(0, 3, 1, 2).float() / 255.0
