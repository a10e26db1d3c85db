"""Teacher-forced training of the latent dynamics predictor on a dataset.

Frames are encoded once by the frozen encoder; the predictor then learns, on
windows of ``n_frames`` consecutive frames, to map frames <= t and the action
taken at t to the tokens of frame t+1 (DINO-WM's objective: MSE in latent space).
Held-out episodes give a validation loss.

Data-parallel training: when ``torch.distributed`` is initialised (e.g. by
``torchrun``), every process draws the same global batch of ``batch_size``
windows from the same generator and trains on its own slice of it through
``DistributedDataParallel``, whose gradient all-reduce averages the slices, so
N processes follow the same trajectory as one process with the same global
batch (up to float summation order). Process 0 validates, logs and checkpoints.
Mixed precision (``precision="bf16"``) runs the forward pass under
``torch.autocast`` in bfloat16; parameters, gradients and optimiser state stay
float32, so no loss scaling is needed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from worldmodels.pretrain_encoder import cosine_lr
from worldmodels.training_data import FlatEpisodes
from worldmodels.training_state import resume_training, save_training_state
from worldmodels.world_model import WorldModel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PredictorTrainConfig:
    """Optimisation settings of :func:`train_predictor`; checks itself."""

    steps: int = 3000
    batch_size: int = 128
    n_frames: int = 3  # context frames per training window
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    val_fraction: float = 0.1
    val_every: int = 500
    checkpoint_every: int = 500  # steps between training-state checkpoints (with a path)
    rollout_horizon: int = 5  # validation: open-loop rollout error at horizons 1..this
    precision: str = "fp32"  # "fp32" or "bf16" (autocast of the forward pass)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in (
            "steps",
            "batch_size",
            "n_frames",
            "val_every",
            "checkpoint_every",
            "rollout_horizon",
        ):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"PredictorTrainConfig.{name} must be >= 1, got {getattr(self, name)}"
                )
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(
                f"PredictorTrainConfig.precision must be 'fp32' or 'bf16', got {self.precision!r}"
            )
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(
                f"PredictorTrainConfig.val_fraction must be in (0, 1), got {self.val_fraction}"
            )


@torch.no_grad()
def encode_frames(world_model: WorldModel, data: FlatEpisodes, batch: int = 512) -> torch.Tensor:
    """Encode every frame (with its proprioception, if the model takes it) -> (F, P, D)."""
    chunks = [
        world_model.encode(
            torch.from_numpy(data.pixels[i : i + batch])[:, None],
            torch.from_numpy(data.proprio[i : i + batch])[:, None],
        )[:, 0]
        for i in range(0, len(data.pixels), batch)
    ]
    return torch.cat(chunks)


def _batch(
    z: torch.Tensor, actions: torch.Tensor, starts: np.ndarray, n_frames: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Windows at ``starts``: inputs (B, T, P, D), actions (B, T, A), targets (B, T, P, D)."""
    idx = torch.from_numpy(starts)[:, None] + torch.arange(n_frames + 1)  # (B, T+1)
    frames = z[idx]
    return frames[:, :-1], actions[idx[:, :-1]], frames[:, 1:]


def train_predictor(
    world_model: WorldModel,
    data: FlatEpisodes,
    config: PredictorTrainConfig,
    progress: bool = True,
    checkpoint: Path | None = None,
) -> list[dict[str, float]]:
    """Train ``world_model.predictor`` in place; the encoder stays frozen.

    With ``checkpoint``, the training state (predictor, optimiser, sampler, log) is written
    there atomically every ``config.checkpoint_every`` steps, and a run that finds one
    resumes from it exactly: the same batches and the same loss curve as without the stop.

    Args:
        world_model: model whose action statistics are already set from ``data``.
        data: flat episodes (pixels and actions).
        config: optimisation settings.
        progress: show a progress bar.
        checkpoint: optional training-state file (``.safetensors``).

    Returns:
        Log rows with training and validation losses.
    """
    if config.n_frames > world_model.predictor.config.max_frames:
        raise ValueError(
            f"n_frames={config.n_frames} exceeds predictor max_frames="
            f"{world_model.predictor.config.max_frames}"
        )
    device = world_model.device
    z = encode_frames(world_model, data)
    raw_actions = torch.from_numpy(data.actions).to(device)  # (F, A)
    actions = world_model.normalize_actions(raw_actions)
    rng = np.random.default_rng(config.seed)
    starts = data.windows(config.n_frames)
    val_episodes = data.held_out_episodes(config.val_fraction, rng)
    is_val = np.isin(data.episode_of[starts], val_episodes)
    train_starts, val_starts = starts[~is_val], starts[is_val][:2048]
    rollout_starts = data.windows(config.rollout_horizon)
    rollout_starts = rollout_starts[np.isin(data.episode_of[rollout_starts], val_episodes)][:512]
    if len(train_starts) == 0:
        raise ValueError(f"no training windows of {config.n_frames + 1} frames in the dataset")

    distributed = dist.is_available() and dist.is_initialized()
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    if config.batch_size % world:
        raise ValueError(
            f"batch_size={config.batch_size} must be divisible by the {world} processes"
        )
    local = slice(rank * config.batch_size // world, (rank + 1) * config.batch_size // world)
    predictor = world_model.predictor.train()
    model = DistributedDataParallel(predictor) if distributed else predictor
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")
    optim = torch.optim.AdamW(
        predictor.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    start, log = resume_training(checkpoint, predictor, optim, rng)
    bar = tqdm(
        range(start, config.steps),
        desc="train predictor",
        disable=not progress or rank > 0,
        initial=start,
    )
    for step in bar:
        for group in optim.param_groups:
            group["lr"] = cosine_lr(step, config.steps, config.warmup_steps, config.lr)
        batch = rng.choice(train_starts, config.batch_size)  # the global batch
        inputs, acts, targets = _batch(z, actions, batch[local], config.n_frames)
        with autocast:
            loss = F.mse_loss(model(inputs, acts).float(), targets)
        optim.zero_grad(set_to_none=True)
        loss.backward()  # DDP averages the gradients over the processes here
        torch.nn.utils.clip_grad_norm_(predictor.parameters(), 1.0)
        optim.step()
        is_last = step == config.steps - 1
        if ((step + 1) % config.val_every == 0 or is_last) and distributed:
            loss = loss.detach().clone()
            dist.all_reduce(loss)  # the global batch's loss, as one process would log it
            loss /= world
        if rank > 0:
            continue
        if (step + 1) % config.val_every == 0 or is_last:
            predictor.eval()
            with torch.no_grad(), autocast:
                v_in, v_act, v_tgt = _batch(z, actions, val_starts, config.n_frames)
                val = F.mse_loss(predictor(v_in, v_act).float(), v_tgt).item()
                identity = F.mse_loss(v_in, v_tgt).item()  # copy-last-frame baseline
                errors = open_loop_errors(
                    world_model, z, raw_actions, rollout_starts, config.rollout_horizon
                )
            predictor.train()
            row = {
                "step": step + 1,
                "train_loss": loss.item(),
                "val_loss": val,
                "val_copy_baseline": identity,
                **{f"val_rollout_h{h + 1}": error for h, error in enumerate(errors)},
            }
            bar.set_postfix(val=f"{val:.4f}")
            logger.info("predictor %s", row)
            log.append(row)
        if checkpoint is not None and (step + 1) % config.checkpoint_every == 0:
            save_training_state(checkpoint, predictor, optim, rng, step + 1, log)
    predictor.eval()
    return log


def open_loop_errors(
    world_model: WorldModel,
    z: torch.Tensor,
    raw_actions: torch.Tensor,
    starts: np.ndarray,
    horizon: int,
) -> list[float]:
    """Mean squared error of open-loop rollouts at each horizon, from observed frames.

    Each rollout starts from one encoded frame and applies the recorded actions, feeding its
    own predictions back (as planning does); horizon h compares with the encoding h frames on.

    Args:
        world_model: the model under training.
        z: (F, P, D) encoded frames.
        raw_actions: (F, A) recorded actions, environment scale.
        starts: (S,) frame indices followed by at least `horizon` frames of the same episode.
        horizon: H.

    Returns:
        H errors, for horizons 1..H (empty when there are no starts).
    """
    if len(starts) == 0:
        return []
    idx = torch.from_numpy(starts).to(z.device)[:, None] + torch.arange(
        horizon + 1, device=z.device
    )
    pred = world_model.rollout(z[idx[:, :1]], raw_actions[idx[:, :-1]][:, None])  # (S, 1, H, P, D)
    return (pred[:, 0] - z[idx[:, 1:]]).square().mean(dim=(0, 2, 3)).tolist()
