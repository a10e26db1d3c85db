"""Training of the visualisation decoder on a world model's frozen tokens.

Frames are encoded once by the world model's frozen encoder, under ``no_grad``,
so the decoder's loss (pixel MSE) reaches neither the encoder nor the predictor.
Held-out episodes give a validation error, reported with the error of the best
constant image (the mean frame) as the baseline a useful decoder must beat. The loop
(schedule, checkpoints, exact resume) is :func:`worldmodels.train_loop.train_loop`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from worldmodels.decoder import DecoderConfig, LatentDecoder
from worldmodels.distributed import require_single_process
from worldmodels.frames import frames_to_images
from worldmodels.train_loop import TrainConfig, TrainingTask, check_at_least_one, train_loop
from worldmodels.training_data import FlatEpisodes, encode_frames
from worldmodels.world_model import WorldModel


@dataclass(frozen=True)
class DecoderTrainConfig(TrainConfig):
    """Settings of :func:`train_decoder` (besides the loop's); checks itself."""

    steps: int = 2000
    batch_size: int = 64
    lr: float = 2e-3
    val_fraction: float = 0.1
    val_every: int = 250
    channels: int = 128  # the decoder's width (DecoderConfig.channels)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_at_least_one(self, "val_every", "channels")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(
                f"DecoderTrainConfig.val_fraction must be in (0, 1), got {self.val_fraction}"
            )


def train_decoder(
    world_model: WorldModel,
    data: FlatEpisodes,
    config: DecoderTrainConfig,
    progress: bool = True,
    checkpoint: Path | None = None,
) -> tuple[LatentDecoder, list[dict[str, float]]]:
    """Trains a decoder from the world model's tokens to the frames.

    Args:
        world_model: frozen; its encoder gives the tokens, nothing of it is trained.
        data: flat episodes whose frames match the world model's image size.
        config: optimisation settings.
        progress: show a progress bar.
        checkpoint: optional training-state file; a run that finds one resumes from it.

    Returns:
        The decoder (eval mode, no grad) and log rows with train/validation pixel MSE and
        the mean-frame baseline.
    """
    require_single_process("decoder training", "not yet tested with DistributedDataParallel")
    device = world_model.device
    z = world_model.visual_tokens(encode_frames(world_model, data))  # (F, P, D), no grad
    h, w = world_model.grid
    grid = (h // world_model.pool, w // world_model.pool)
    decoder_config = DecoderConfig(
        token_dim=z.shape[-1],
        grid=grid,
        image_size=world_model.image_size,
        channels=config.channels,
    )
    torch.manual_seed(config.seed)
    decoder = LatentDecoder(decoder_config).to(device)
    rng = np.random.default_rng(config.seed)
    val_episodes = data.held_out_episodes(config.val_fraction, rng)
    is_val = np.isin(data.episode_of, val_episodes)
    train_idx, val_idx = np.flatnonzero(~is_val), np.flatnonzero(is_val)[:1024]
    if len(train_idx) == 0:
        raise ValueError("no training frames left after holding out validation episodes")
    mean_frame = frames_to_images(data.pixels[train_idx[:4096]], device).mean(0, keepdim=True)
    val_images = frames_to_images(data.pixels[val_idx], device)
    baseline = F.mse_loss(mean_frame.expand_as(val_images), val_images).item()

    def train_loss(model: nn.Module, batch: np.ndarray) -> tuple[torch.Tensor, dict[str, float]]:
        return F.mse_loss(model(z[batch]), frames_to_images(data.pixels[batch], device)), {}

    def validate(_: np.ndarray) -> dict[str, float]:
        val = F.mse_loss(decoder(z[val_idx]), val_images).item()
        return {
            "val_mse": val,
            "val_psnr_db": -10.0 * float(np.log10(max(val, 1e-12))),
            "val_mean_frame_mse": baseline,
        }

    task = TrainingTask("train decoder", decoder, train_idx, train_loss, validate,
                        log_every=config.val_every, loss_key="train_mse")  # fmt: skip
    log = train_loop(config, task, rng, progress, checkpoint)
    return decoder.eval().requires_grad_(False), log
