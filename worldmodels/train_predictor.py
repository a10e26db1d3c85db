"""Training of the latent dynamics predictor on a dataset, and its validation.

Frames are encoded once by the frozen encoder; the predictor then learns, on windows of
``n_frames`` frames taken every ``frameskip`` steps, to map frames <= t and the block of
``frameskip`` actions taken from t to the tokens of frame t+1 (DINO-WM's objective: MSE in
latent space), plus, with ``rollout_steps > 1``, the error of its own ``rollout_steps``-step
open-loop rollouts (:class:`worldmodels.predictor_loss.MultiStepLoss`). Held-out episodes
give a validation loss and, at each horizon 1..``rollout_horizon``, the open-loop rollout
error and the error of copying the start frame. The loop (schedule, data parallelism under
``torchrun``, bf16, checkpoints and exact resume) is :func:`worldmodels.train_loop.train_loop`;
this module is the predictor's batches and validation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from worldmodels.predictor_loss import LatentError, MultiStepLoss, PredictorLoss, Windows
from worldmodels.train_loop import TrainConfig, TrainingTask, check_at_least_one, train_loop
from worldmodels.training_data import FlatEpisodes, encode_frames, window_indices
from worldmodels.world_model import WorldModel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PredictorTrainConfig(TrainConfig):
    """Settings of :func:`train_predictor` (besides the loop's); checks itself."""

    steps: int = 3000
    weight_decay: float = 0.01
    n_frames: int = 3  # context frames per training window
    frameskip: int = 1  # environment steps between frames (DINO-WM's frameskip)
    rollout_steps: int = 1  # open-loop steps of the multi-step loss (1: teacher forcing)
    rollout_weight: float = 1.0  # weight of the open-loop term
    rollout_decay: float = 1.0  # rho: weight rho**t of the open-loop error at step t
    proprio_weight: float = 0.0  # weight of the proprio token's own MSE (models with proprio)
    val_fraction: float = 0.1
    val_every: int = 500
    rollout_horizon: int = 10  # validation: open-loop and copy errors at horizons 1..this

    def __post_init__(self) -> None:
        super().__post_init__()
        check_at_least_one(
            self, "n_frames", "frameskip", "rollout_steps", "val_every", "rollout_horizon"
        )
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(
                f"PredictorTrainConfig.val_fraction must be in (0, 1), got {self.val_fraction}"
            )
        if self.rollout_weight < 0:
            raise ValueError(
                f"PredictorTrainConfig.rollout_weight must be >= 0, got {self.rollout_weight}"
            )
        if self.proprio_weight < 0:
            raise ValueError(
                f"PredictorTrainConfig.proprio_weight must be >= 0, got {self.proprio_weight}"
            )
        if self.rollout_decay <= 0:
            raise ValueError(
                f"PredictorTrainConfig.rollout_decay must be > 0, got {self.rollout_decay}"
            )


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
    loss: PredictorLoss | None = None,
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
        loss: the training loss of a batch of windows of ``max(n_frames, rollout_steps)``
            frames; by default the config's :class:`MultiStepLoss` (teacher forcing when
            ``rollout_steps`` is 1), rolled out with the world model's ``num_hist``.

    Returns:
        Log rows with training and validation losses.
    """
    n_frames, fs = config.n_frames, config.frameskip
    if n_frames > world_model.predictor.config.max_frames:
        raise ValueError(
            f"n_frames={n_frames} exceeds predictor max_frames="
            f"{world_model.predictor.config.max_frames}"
        )
    proprio_dim = world_model.predictor.config.proprio_dim
    error = LatentError(proprio_dim, config.proprio_weight)  # refuses a weight without proprio
    if loss is None:
        loss = MultiStepLoss(n_frames, config.rollout_steps, world_model.num_hist,
                             config.rollout_weight, config.rollout_decay, error)  # fmt: skip
    window = max(n_frames, config.rollout_steps)  # frames per training window
    z = encode_frames(world_model, data)  # (F, P, D)
    raw_actions = torch.from_numpy(data.actions).to(world_model.device)  # (F, A)
    rng = np.random.default_rng(config.seed)
    starts = data.windows(window, fs)
    val_episodes = data.held_out_episodes(config.val_fraction, rng)
    is_val = np.isin(data.episode_of[starts], val_episodes)
    train_starts, val_starts = starts[~is_val], starts[is_val][:2048]
    rollout_starts, horizon = _rollout_starts(data, val_episodes, config.rollout_horizon, fs)
    if len(train_starts) == 0:
        raise ValueError(
            f"no training windows of {window + 1} frames {fs} steps apart in the dataset"
        )

    def train_loss(model: nn.Module, batch: np.ndarray) -> tuple[torch.Tensor, dict[str, float]]:
        return loss(model, _batch(world_model, z, raw_actions, batch, window, fs)), {}

    def validate(_: np.ndarray) -> dict[str, float]:
        windows = _batch(world_model, z, raw_actions, val_starts, window, fs)
        head = windows.head(n_frames)
        errors = open_loop_errors(world_model, z, raw_actions, rollout_starts, horizon, fs)
        copies = copy_errors(z, rollout_starts, horizon, fs)
        row = {
            "val_loss": loss(world_model.predictor, windows).item(),
            "val_copy_baseline": F.mse_loss(head.inputs, head.targets).item(),
        }
        for h, (error, copy) in enumerate(zip(errors, copies, strict=True), start=1):
            row[f"val_rollout_h{h}"], row[f"val_copy_h{h}"] = error, copy
        if proprio_dim:  # the proprio entries alone: the planners' proprio terms read them
            errors = open_loop_errors(world_model, z, raw_actions, rollout_starts, horizon, fs,
                                      proprio_dim)  # fmt: skip
            copies = copy_errors(z, rollout_starts, horizon, fs, proprio_dim)
            for h, (error, copy) in enumerate(zip(errors, copies, strict=True), start=1):
                row[f"val_proprio_rollout_h{h}"], row[f"val_proprio_copy_h{h}"] = error, copy
        return row

    predictor = world_model.predictor.train()
    task = TrainingTask("train predictor", predictor, train_starts, train_loss, validate,
                        log_every=config.val_every, grad_clip=1.0)  # fmt: skip
    log = train_loop(config, task, rng, progress, checkpoint)
    predictor.eval()
    return log


def _rollout_starts(
    data: FlatEpisodes, val_episodes: np.ndarray, horizon: int, frameskip: int
) -> tuple[np.ndarray, int]:
    """Up to 512 held-out starts for open-loop validation, and the horizon they allow.

    The horizon is ``horizon``, or the longest the held-out episodes hold (with a warning).

    Returns:
        (S,) flat frame indices, and the horizon.
    """
    actions = np.bincount(data.episode_of)[val_episodes] - 1  # (V,) actions per episode
    allowed = max(1, min(horizon, int(actions.max()) // frameskip))
    if allowed < horizon:
        message = "open-loop validation to horizon %d, not %d: held-out episodes hold %d actions"
        logger.warning(message, allowed, horizon, actions.max())
    starts = data.windows(allowed, frameskip)
    return starts[np.isin(data.episode_of[starts], val_episodes)][:512], allowed


def _horizon_mse(pred: torch.Tensor, target: torch.Tensor, proprio_dim: int) -> list[float]:
    """(S, H, P, D) frames -> H mean squared errors, over all entries or (``proprio_dim`` > 0)
    over the proprio token's first ``proprio_dim`` entries only."""
    if proprio_dim:
        pred, target = pred[:, :, -1:, :proprio_dim], target[:, :, -1:, :proprio_dim]
    return (pred - target).square().mean(dim=(0, 2, 3)).tolist()


def copy_errors(
    z: torch.Tensor, starts: np.ndarray, horizon: int, frameskip: int = 1, proprio_dim: int = 0
) -> list[float]:
    """Mean squared error of copying the start frame, at each horizon 1..H: the baseline of
    :func:`open_loop_errors`, with its arguments ``z`` (F, P, D), ``starts`` (S,), ``horizon``,
    ``frameskip`` (horizon h is compared ``h * frameskip`` steps on) and ``proprio_dim``.
    Empty without starts.
    """
    if len(starts) == 0:
        return []
    frames, _ = window_indices(starts, horizon, frameskip, z.device)  # (S, H+1)
    return _horizon_mse(z[frames[:, :1]].expand(-1, horizon, -1, -1), z[frames[:, 1:]],
                        proprio_dim)  # fmt: skip


def open_loop_errors(
    world_model: WorldModel,
    z: torch.Tensor,
    raw_actions: torch.Tensor,
    starts: np.ndarray,
    horizon: int,
    frameskip: int = 1,
    proprio_dim: int = 0,
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
        proprio_dim: > 0: the error over the proprio token's first ``proprio_dim`` entries
            only (the model's proprio dimension); 0: over all entries.

    Returns:
        H errors, for horizons 1..H (empty when there are no starts).
    """
    if len(starts) == 0:
        return []
    frames, steps = window_indices(starts, horizon, frameskip, z.device)  # (S, H+1), (S, H, fs)
    actions = raw_actions[steps].flatten(2)[:, None]  # (S, 1, H, fs * A)
    pred = world_model.rollout(z[frames[:, :1]], actions)  # (S, 1, H, P, D)
    return _horizon_mse(pred[:, 0], z[frames[:, 1:]], proprio_dim)
