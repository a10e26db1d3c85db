"""Teacher-forced training of the latent dynamics predictor on a dataset.

Frames are encoded once by the frozen encoder; the predictor then learns, on windows of
``n_frames`` frames taken every ``frameskip`` steps, to map frames <= t and the block of
``frameskip`` actions taken from t to the tokens of frame t+1 (DINO-WM's objective: MSE in
latent space). Held-out episodes give a validation loss, the copy-last-frame baseline and
open-loop rollout errors. The loop (schedule, data parallelism under ``torchrun``, bf16,
checkpoints and exact resume) is :func:`worldmodels.train_loop.train_loop`; this module is
the predictor's loss (:data:`PredictorLoss`, swappable) and its validation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from worldmodels.train_loop import TrainConfig, TrainingTask, check_at_least_one, train_loop
from worldmodels.training_data import FlatEpisodes, encode_frames, window_indices
from worldmodels.world_model import WorldModel


@dataclass(frozen=True)
class PredictorTrainConfig(TrainConfig):
    """Settings of :func:`train_predictor` (besides the loop's); checks itself."""

    steps: int = 3000
    weight_decay: float = 0.01
    n_frames: int = 3  # context frames per training window
    frameskip: int = 1  # environment steps between frames (DINO-WM's frameskip)
    val_fraction: float = 0.1
    val_every: int = 500
    rollout_horizon: int = 5  # validation: open-loop rollout error at horizons 1..this

    def __post_init__(self) -> None:
        super().__post_init__()
        check_at_least_one(self, "n_frames", "frameskip", "val_every", "rollout_horizon")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(
                f"PredictorTrainConfig.val_fraction must be in (0, 1), got {self.val_fraction}"
            )


@dataclass(frozen=True)
class Windows:
    """A batch of training windows: inputs (B, T, P, D), actions (B, T, A), targets (B, T, P, D).

    ``A`` is ``frameskip`` times the environment's action dim (a block of actions per frame),
    z-scored by the world model.
    """

    inputs: torch.Tensor
    actions: torch.Tensor
    targets: torch.Tensor


PredictorLoss = Callable[[nn.Module, Windows], torch.Tensor]
"""(predictor, possibly DDP-wrapped; a batch of windows) -> scalar loss."""


def teacher_forced_loss(predictor: nn.Module, windows: Windows) -> torch.Tensor:
    """DINO-WM's loss: MSE of the one-step predictions of every frame given the true past."""
    return F.mse_loss(predictor(windows.inputs, windows.actions).float(), windows.targets)


def _batch(
    world_model: WorldModel,
    z: torch.Tensor,
    raw_actions: torch.Tensor,
    starts: np.ndarray,
    n_frames: int,
    frameskip: int,
) -> Windows:
    """The windows at flat ``starts`` (B,), from encoded frames (F, P, D) and actions (F, A)."""
    frames, steps = window_indices(starts, n_frames, frameskip, z.device)  # (B, T+1), (B, T, fs)
    actions = world_model.normalize_actions(raw_actions[steps].flatten(2))  # (B, T, fs * A)
    encoded = z[frames]  # (B, T+1, P, D)
    return Windows(encoded[:, :-1], actions, encoded[:, 1:])


def train_predictor(
    world_model: WorldModel,
    data: FlatEpisodes,
    config: PredictorTrainConfig,
    progress: bool = True,
    checkpoint: Path | None = None,
    loss: PredictorLoss = teacher_forced_loss,
) -> list[dict[str, float]]:
    """Train ``world_model.predictor`` in place; the encoder stays frozen.

    With ``checkpoint``, the training state (predictor, optimiser, sampler, log) is written
    there atomically every ``config.checkpoint_every`` steps, and a run that finds one
    resumes from it exactly: the same batches and the same loss curve as without the stop.
    Under ``torchrun`` each process trains its slice of the global batch; process 0
    validates, logs and checkpoints.

    Args:
        world_model: model whose action statistics are already set from ``data`` (for
            ``frameskip > 1``, for blocks of ``frameskip`` actions).
        data: flat episodes (pixels and actions).
        config: optimisation settings.
        progress: show a progress bar.
        checkpoint: optional training-state file (``.safetensors``).
        loss: the training loss of a batch of windows (teacher forcing by default).

    Returns:
        Log rows with training and validation losses.
    """
    n_frames, fs = config.n_frames, config.frameskip
    if n_frames > world_model.predictor.config.max_frames:
        raise ValueError(
            f"n_frames={n_frames} exceeds predictor max_frames="
            f"{world_model.predictor.config.max_frames}"
        )
    z = encode_frames(world_model, data)  # (F, P, D)
    raw_actions = torch.from_numpy(data.actions).to(world_model.device)  # (F, A)
    rng = np.random.default_rng(config.seed)
    starts = data.windows(n_frames, fs)
    val_episodes = data.held_out_episodes(config.val_fraction, rng)
    is_val = np.isin(data.episode_of[starts], val_episodes)
    train_starts, val_starts = starts[~is_val], starts[is_val][:2048]
    rollout_starts = data.windows(config.rollout_horizon, fs)
    rollout_starts = rollout_starts[np.isin(data.episode_of[rollout_starts], val_episodes)][:512]
    if len(train_starts) == 0:
        raise ValueError(
            f"no training windows of {n_frames + 1} frames {fs} steps apart in the dataset"
        )

    def train_loss(model: nn.Module, batch: np.ndarray) -> tuple[torch.Tensor, dict[str, float]]:
        return loss(model, _batch(world_model, z, raw_actions, batch, n_frames, fs)), {}

    def validate(_: np.ndarray) -> dict[str, float]:
        windows = _batch(world_model, z, raw_actions, val_starts, n_frames, fs)
        horizon = config.rollout_horizon
        errors = open_loop_errors(world_model, z, raw_actions, rollout_starts, horizon, fs)
        return {
            "val_loss": loss(world_model.predictor, windows).item(),
            "val_copy_baseline": F.mse_loss(windows.inputs, windows.targets).item(),
            **{f"val_rollout_h{h + 1}": error for h, error in enumerate(errors)},
        }

    predictor = world_model.predictor.train()
    task = TrainingTask("train predictor", predictor, train_starts, train_loss, validate,
                        log_every=config.val_every, grad_clip=1.0)  # fmt: skip
    log = train_loop(config, task, rng, progress, checkpoint)
    predictor.eval()
    return log


def open_loop_errors(
    world_model: WorldModel,
    z: torch.Tensor,
    raw_actions: torch.Tensor,
    starts: np.ndarray,
    horizon: int,
    frameskip: int = 1,
) -> list[float]:
    """Mean squared error of open-loop rollouts at each horizon, from observed frames.

    Each rollout starts from one encoded frame and applies the recorded actions (blocks of
    ``frameskip``), feeding its own predictions back (as planning does); horizon h compares
    with the encoding ``h * frameskip`` steps on.

    Args:
        world_model: the model under training.
        z: (F, P, D) encoded frames.
        raw_actions: (F, A) recorded actions, environment scale.
        starts: (S,) frame indices followed by at least ``horizon * frameskip`` frames of the
            same episode.
        horizon: H.
        frameskip: environment steps per predicted frame.

    Returns:
        H errors, for horizons 1..H (empty when there are no starts).
    """
    if len(starts) == 0:
        return []
    frames, steps = window_indices(starts, horizon, frameskip, z.device)  # (S, H+1), (S, H, fs)
    actions = raw_actions[steps].flatten(2)[:, None]  # (S, 1, H, fs * A)
    pred = world_model.rollout(z[frames[:, :1]], actions)  # (S, 1, H, P, D)
    return (pred[:, 0] - z[frames[:, 1:]]).square().mean(dim=(0, 2, 3)).tolist()
