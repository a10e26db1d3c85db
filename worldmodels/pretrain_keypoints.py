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
  positions with R^2 above ``agent_r2``) are left out of the encoder's token, and the agent
  map is refit to them (`settle_agent`);
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
from worldmodels.frames import frames_to_images
from worldmodels.keypoint_encoder import KeypointEncoder
from worldmodels.train_loop import TrainConfig, TrainingTask, train_loop
from worldmodels.vit import imagenet_normalize

logger = logging.getLogger(__name__)

LOG_EVERY = 250  # steps between log rows
BACKGROUND_FRAMES = 2000  # frames whose per-pixel median is the static background
R2_FRAMES = 5000  # frames of the agent-keypoint regression (4/5 fit, 1/5 scored)
AGENT_FIT_STEPS = 2000  # Adam steps refitting the agent map to the keypoints that follow it


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
    if encoder.agent is not None:
        _set_proprio_statistics(encoder, proprio)
    rng = np.random.default_rng(config.seed)
    sample = np.sort(rng.choice(len(frames), min(BACKGROUND_FRAMES, len(frames)), replace=False))
    background = F.avg_pool2d(frames_to_images(frames[sample], device).median(0).values[None], 2)
    n_agent = encoder.agent_points if encoder.agent is not None else 0
    decoder = KeypointDecoder(
        encoder.n_keypoints + n_agent, config.decoder_channels, size, config.sigma
    ).to(device)
    encoder.train().requires_grad_(True)
    trained = nn.ModuleDict({"encoder": encoder, "decoder": decoder})

    def loss(_: nn.Module, index: np.ndarray) -> tuple[torch.Tensor, dict[str, float]]:
        images = frames_to_images(frames[index], device)
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
        images = imagenet_normalize(frames_to_images(frames[index], device))
        spread = encoder.keypoints(images).std(0).mean(-1)  # (K,)
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
        settle_agent(encoder, frames, proprio, config.agent_r2, config.seed)
    return log


def settle_agent(
    encoder: KeypointEncoder, frames: np.ndarray, proprio: np.ndarray, threshold: float, seed: int
) -> np.ndarray:
    """Leaves the keypoints that follow the agent out of ``encoder``'s token and, where there
    are such keypoints, refits its agent map to them: the agent's image points are then where
    the encoder itself sees the agent (a map trained inside the decoder can miss it when a
    keypoint took the agent first). Returns the keypoints' R^2 from the proprio (`agent_r2`).

    Args:
        encoder: a trained keypoint encoder (``keep`` and the agent map set in place).
        frames: (N, S, S, 3) uint8.
        proprio: (N, p) raw proprioception, p >= 1.
        threshold: keypoints with R^2 above it follow the agent.
        seed: draws the frames and initialises the refit map.

    Raises:
        ValueError: every keypoint follows the agent.
    """
    index = np.random.default_rng(seed).permutation(len(frames))[:R2_FRAMES]
    points = _keypoints(encoder, frames[index])
    r2 = agent_r2(points, proprio[index])
    keep = [k for k, value in enumerate(r2) if value <= threshold]
    followers = [k for k, value in enumerate(r2) if value > threshold]
    logger.info("keypoints' R^2 from the proprio %s: token keeps %s", np.round(r2, 3), keep)
    if not keep:
        raise ValueError(
            f"every keypoint follows the agent (R^2 from the proprio {np.round(r2, 3)} > "
            f"agent_r2 {threshold}): nothing is left for the objects"
        )
    encoder.keep = keep
    if followers and encoder.proprio_dim:
        torch.manual_seed(seed)
        encoder.reset_agent_map(len(followers))
        _set_proprio_statistics(encoder, proprio)
        error = _fit_agent_map(encoder, proprio[index], points[:, followers])
        logger.info("agent map refit to keypoints %s: held-out error %.4f", followers, error)
    return r2


def _fit_agent_map(encoder: KeypointEncoder, proprio: np.ndarray, targets: torch.Tensor) -> float:
    """Fits ``encoder``'s (new) agent map to ``targets`` (n, A, 2) from ``proprio`` (n, p) by
    Adam on four fifths; returns the mean image distance on the last fifth."""
    device = encoder.features[0].weight.device
    raw = torch.as_tensor(proprio, dtype=torch.float32, device=device)
    targets = targets.float().to(device)
    split = len(raw) * 4 // 5
    agent = encoder.agent.requires_grad_(True)
    optimizer = torch.optim.Adam(agent.parameters(), lr=3e-3)
    for _ in range(AGENT_FIT_STEPS):
        batch = torch.randint(0, split, (min(512, split),), device=device)
        loss = (encoder.place_agent(raw[batch]) - targets[batch]).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    agent.requires_grad_(False)
    with torch.no_grad():
        return (encoder.place_agent(raw[split:]) - targets[split:]).norm(dim=-1).mean().item()


def _set_proprio_statistics(encoder: KeypointEncoder, proprio: np.ndarray) -> None:
    """The mean and std (+1e-6) of ``proprio`` (N, p) float32, which the agent map z-scores by."""
    encoder.proprio_mean.copy_(torch.as_tensor(proprio.mean(0)))
    encoder.proprio_std.copy_(torch.as_tensor(proprio.std(0) + 1e-6))


def _keypoints(encoder: KeypointEncoder, frames: np.ndarray) -> torch.Tensor:
    """(n, S, S, 3) uint8 -> (n, K, 2) float64 keypoints, in chunks of 256."""
    device = next(encoder.parameters()).device
    with torch.no_grad():
        return torch.cat([
            encoder.keypoints(imagenet_normalize(frames_to_images(chunk, device))).cpu()
            for chunk in np.array_split(frames, max(1, len(frames) // 256))
        ]).double()  # fmt: skip


def agent_r2(points: torch.Tensor, proprio: np.ndarray) -> np.ndarray:
    """(K,) how well the proprio predicts each keypoint: R^2 of its (x, y) on the last fifth of
    the frames by ridge regression on the z-scored proprio's monomials up to degree 3, fitted
    on the first four fifths.

    Args:
        points: (n, K, 2) keypoints of n frames (in random order).
        proprio: (n, p) the frames' proprioception, p >= 1.
    """
    z = torch.as_tensor(proprio, dtype=torch.float64)
    z = (z - z.mean(0)) / (z.std(0) + 1e-6)
    columns = [torch.ones(len(z), 1, dtype=z.dtype), z]
    for degree in (2, 3):
        combos = torch.combinations(torch.arange(z.shape[1]), degree, with_replacement=True)
        columns.append(z[:, combos].prod(-1))
    features = torch.cat(columns, 1)  # (n, F)
    split = len(z) * 4 // 5
    fit, test = slice(0, split), slice(split, None)
    gram = features[fit].T @ features[fit] + 1e-3 * torch.eye(features.shape[1], dtype=z.dtype)
    targets = points.double().flatten(1)  # (n, 2K)
    weights = torch.linalg.solve(gram, features[fit].T @ targets[fit])
    error = (features[test] @ weights - targets[test]).square().unflatten(1, (-1, 2)).sum((0, 2))
    spread = (targets[test] - targets[test].mean(0)).square().unflatten(1, (-1, 2)).sum((0, 2))
    return (1 - error / spread.clamp_min(1e-12)).numpy()
