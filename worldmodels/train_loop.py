"""The one training loop of the trainers (predictor, decoder, encoder pretraining).

A trainer supplies what differs, as a :class:`TrainingTask`: the module whose state is
saved, a loss function of a batch, an evaluation function and what to do after each
optimiser step. The loop owns everything else, once:

- AdamW under a linear warm-up and cosine schedule (:func:`cosine_lr`);
- batches drawn (with replacement) from the task's pool by a seeded numpy generator;
- data parallelism under ``torchrun`` (:mod:`worldmodels.distributed`): every process draws
  the same global batch and trains its slice through ``DistributedDataParallel``;
- bf16 autocast (``precision="bf16"``) of the loss and the evaluation: parameters,
  gradients and optimiser state stay float32, so no loss scaling is needed;
- gradient clipping, log rows (logging, tqdm), evaluation every ``log_every`` steps;
- an atomic training state (:mod:`worldmodels.training_state`) every ``checkpoint_every``
  steps, from which a killed run resumes exactly: same batches, same loss curve.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from worldmodels.distributed import is_distributed, local_slice, rank_and_world
from worldmodels.training_state import resume_training, save_training_state

logger = logging.getLogger(__name__)

LossFn = Callable[[nn.Module, np.ndarray], tuple[torch.Tensor, dict[str, float]]]
"""(trained module, possibly DDP-wrapped; this process's batch (b,)) -> (loss, logged terms)."""

EvalFn = Callable[[np.ndarray], dict[str, float]]
"""(the global batch (B,)) -> entries of the log row; runs under no_grad in eval mode."""


def cosine_lr(step: int, total: int, warmup: int, peak: float) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then cosine decay to zero at ``total``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


@dataclass(frozen=True)
class LoopConfig:
    """Settings of :func:`train_loop`; checks itself.

    Log rows are made after the steps numbered ``log_every, 2 * log_every, ...`` and after the
    last step, steps being numbered from ``count_from``: 1 labels a row by the steps done (the
    predictor's and the decoder's validation), 0 by the index of the step, so that the first
    row comes after the first step (the encoder's diagnostics).
    """

    name: str  # progress bar and log prefix
    steps: int
    batch_size: int
    lr: float
    warmup_steps: int
    weight_decay: float
    log_every: int
    checkpoint_every: int
    count_from: int = 1
    precision: str = "fp32"  # "fp32" or "bf16" (autocast of the loss and the evaluation)
    grad_clip: float | None = None  # max gradient norm
    loss_key: str = "train_loss"  # the loss's name in the log rows

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"LoopConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.count_from not in (0, 1):
            raise ValueError(f"LoopConfig.count_from must be 0 or 1, got {self.count_from}")
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(
                f"LoopConfig.precision must be 'fp32' or 'bf16', got {self.precision!r}"
            )


@dataclass
class TrainingTask:
    """What a trainer supplies to :func:`train_loop`.

    Attributes:
        model: every module and buffer a resumed run needs (trained modules, EMA teacher,
            centering buffers); saved in the training state, put in eval mode to evaluate.
        parameters: the parameters the optimiser trains.
        pool: (M,) the items (frame or window indices) batches are drawn from.
        loss: the loss of a batch.
        evaluate: the log row's entries besides the step and the loss terms.
        after_step: called with the step index after each optimiser step (EMA updates).
        generators: the task's own torch generators (augmentations), saved and restored.
    """

    model: nn.Module
    parameters: list[nn.Parameter]
    pool: np.ndarray
    loss: LossFn
    evaluate: EvalFn
    after_step: Callable[[int], None] | None = None
    generators: dict[str, torch.Generator] = field(default_factory=dict)


def train_loop(
    config: LoopConfig,
    task: TrainingTask,
    rng: np.random.Generator,
    progress: bool = True,
    checkpoint: Path | None = None,
) -> list[dict[str, float]]:
    """Trains ``task.model`` in place for ``config.steps`` steps; resumes from ``checkpoint``.

    Args:
        config: schedule, batch, cadence and precision.
        task: what is trained and how its loss and evaluation are computed.
        rng: the batch sampler (seeded by the trainer; saved and restored with the state).
        progress: show a progress bar.
        checkpoint: optional training-state file (``.safetensors``): written atomically every
            ``config.checkpoint_every`` steps; a run that finds one resumes from it.

    Returns:
        Log rows ``{"step", config.loss_key, **loss terms, **evaluation}``, made by process 0
        (other processes return only the rows they resumed with).
    """
    if len(task.pool) == 0:
        raise ValueError(f"{config.name}: nothing to draw training batches from")
    device = next(task.model.parameters()).device
    rank, world = rank_and_world()
    local = local_slice(config.batch_size)
    module = DistributedDataParallel(task.model) if is_distributed() else task.model
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")
    optim = torch.optim.AdamW(task.parameters, lr=config.lr, weight_decay=config.weight_decay)
    start, log = resume_training(checkpoint, task.model, optim, rng, task.generators)
    steps = range(start, config.steps)
    bar = tqdm(steps, desc=config.name, disable=not progress or rank > 0, initial=start)
    for step in bar:
        for group in optim.param_groups:
            group["lr"] = cosine_lr(step, config.steps, config.warmup_steps, config.lr)
        batch = rng.choice(task.pool, config.batch_size)  # the global batch
        with autocast:
            loss, terms = task.loss(module, batch[local])
        optim.zero_grad(set_to_none=True)
        loss.backward()  # DDP averages the gradients over the processes here
        if config.grad_clip is not None:
            nn.utils.clip_grad_norm_(task.parameters, config.grad_clip)
        optim.step()
        if task.after_step is not None:
            task.after_step(step)
        number = step + config.count_from
        if number % config.log_every == 0 or step == config.steps - 1:
            if world > 1:
                loss = loss.detach().clone()
                dist.all_reduce(loss)  # the global batch's loss, as one process would log it
                loss /= world
            if rank == 0:
                log.append(_row(config, task, number, loss, terms, batch, autocast))
                bar.set_postfix({config.loss_key: f"{log[-1][config.loss_key]:.4g}"})
        if checkpoint is not None and rank == 0 and (step + 1) % config.checkpoint_every == 0:
            save_training_state(checkpoint, task.model, optim, rng, step + 1, log, task.generators)
    return log


def _row(
    config: LoopConfig,
    task: TrainingTask,
    number: int,
    loss: torch.Tensor,
    terms: dict[str, float],
    batch: np.ndarray,
    autocast: torch.autocast,
) -> dict[str, float]:
    """One log row: the step, the loss and its terms, then the task's evaluation."""
    task.model.eval()
    with torch.no_grad(), autocast:
        evaluation = task.evaluate(batch)
    task.model.train()
    row = {"step": number, config.loss_key: loss.item(), **terms, **evaluation}
    logger.info("%s %s", config.name, row)
    return row
