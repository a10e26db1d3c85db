"""The one training loop of the trainers (predictor, decoder, encoder pretraining).

A trainer supplies what differs, as a :class:`TrainingTask`: the module whose state is
saved, a loss function of a batch, an evaluation function, its log cadence and what to do
after each optimiser step; its config extends :class:`TrainConfig`. The loop owns
everything else, once:

- AdamW under a linear warm-up and cosine schedule (:func:`cosine_lr`);
- batches drawn (with replacement) from the task's pool by a seeded numpy generator;
- data parallelism under ``torchrun`` (:mod:`worldmodels.distributed`): every process draws
  the same global batch and trains its slice through ``DistributedDataParallel``;
- bf16 autocast (``precision="bf16"``) of the loss and the evaluation: parameters,
  gradients and optimiser state stay float32, so no loss scaling is needed;
- gradient clipping, log rows (logging, tqdm), evaluation every ``log_every`` steps;
- a step whose loss (or, with clipping, gradient norm) is NaN or inf stops the run with a
  :class:`NonFiniteLossError` naming the step, before the optimiser applies it: the latest
  training state on disk is the last good one;
- an atomic training state (:mod:`worldmodels.training_state`) every ``checkpoint_every``
  steps, from which a killed run resumes exactly: same batches, same loss curve.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from worldmodels.distributed import is_distributed, local_slice, rank_and_world
from worldmodels.errors import NonFiniteLossError
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


def check_at_least_one(config: object, *names: str) -> None:
    """Raise a ValueError naming the first of the config's fields ``names`` that is below 1."""
    for name in names:
        if getattr(config, name) < 1:
            raise ValueError(
                f"{type(config).__name__}.{name} must be >= 1, got {getattr(config, name)}"
            )


RUNTIME_FIELDS = ("checkpoint_every",)
"""TrainConfig fields that do not change what a run computes (free to change on resume)."""


@dataclass(frozen=True)
class TrainConfig:
    """The loop's settings, which every trainer's config extends; checks itself."""

    steps: int = 1000
    batch_size: int = 128  # the global batch (split over the processes under torchrun)
    lr: float = 1e-3  # peak learning rate
    weight_decay: float = 0.0  # AdamW's
    warmup_steps: int = 100
    checkpoint_every: int = 500  # steps between training-state checkpoints (with a path)
    precision: str = "fp32"  # "fp32" or "bf16" (autocast of the loss and the evaluation)
    seed: int = 0

    def __post_init__(self) -> None:
        check_at_least_one(self, "steps", "batch_size", "checkpoint_every")
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(
                f"{type(self).__name__}.precision must be 'fp32' or 'bf16', got {self.precision!r}"
            )


@dataclass
class TrainingTask:
    """What a trainer supplies to :func:`train_loop`.

    Log rows are made after the steps numbered ``log_every, 2 * log_every, ...`` and after the
    last step, steps being numbered from ``count_from``: 1 labels a row by the steps done (the
    predictor's and the decoder's validation), 0 by the index of the step, so that the first
    row comes after the first step (the encoder's diagnostics).

    Attributes:
        name: progress bar and log prefix.
        model: every module and buffer a resumed run needs (trained modules, EMA teacher,
            centering buffers); saved in the training state, put in eval mode to evaluate.
            The optimiser trains its parameters that require grad.
        pool: (M,) the items (frame or window indices) batches are drawn from.
        loss: the loss of a batch.
        evaluate: the log row's entries besides the step and the loss terms.
        log_every: steps between log rows.
        count_from: 1 or 0, see above.
        loss_key: the loss's name in the log rows.
        grad_clip: max gradient norm, or None.
        after_step: called with the step index after each optimiser step (EMA updates).
        generators: the task's own torch generators (augmentations), saved and restored.
    """

    name: str
    model: nn.Module
    pool: np.ndarray
    loss: LossFn
    evaluate: EvalFn
    log_every: int
    count_from: int = 1
    loss_key: str = "train_loss"
    grad_clip: float | None = None
    after_step: Callable[[int], None] | None = None
    generators: dict[str, torch.Generator] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.log_every < 1:
            raise ValueError(f"TrainingTask.log_every must be >= 1, got {self.log_every}")
        if self.count_from not in (0, 1):
            raise ValueError(f"TrainingTask.count_from must be 0 or 1, got {self.count_from}")


def train_loop(
    config: TrainConfig,
    task: TrainingTask,
    rng: np.random.Generator,
    progress: bool = True,
    checkpoint: Path | None = None,
) -> list[dict[str, float]]:
    """Trains ``task.model`` in place for ``config.steps`` steps; resumes from ``checkpoint``.

    Args:
        config: schedule, batch, checkpoints and precision.
        task: what is trained, how its loss and evaluation are computed, and when.
        rng: the batch sampler (seeded by the trainer; saved and restored with the state).
        progress: show a progress bar.
        checkpoint: optional training-state file (``.safetensors``): written atomically every
            ``config.checkpoint_every`` steps; a run that finds one resumes from it.

    Returns:
        Log rows ``{"step", task.loss_key, **loss terms, **evaluation}``, made by process 0
        (other processes return only the rows they resumed with).
    """
    if len(task.pool) == 0:
        raise ValueError(f"{task.name}: nothing to draw training batches from")
    device = next(task.model.parameters()).device
    parameters = [p for p in task.model.parameters() if p.requires_grad]
    rank, world = rank_and_world()
    local = local_slice(config.batch_size)
    module = DistributedDataParallel(task.model) if is_distributed() else task.model
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")
    optim = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    settings = {k: v for k, v in asdict(config).items() if k not in RUNTIME_FIELDS}
    start, log = resume_training(checkpoint, task.model, optim, rng, task.generators, settings)
    steps = range(start, config.steps)
    bar = tqdm(
        steps, desc=task.name, disable=not progress or rank > 0, initial=start, total=config.steps
    )
    for step in bar:
        for group in optim.param_groups:
            group["lr"] = cosine_lr(step, config.steps, config.warmup_steps, config.lr)
        batch = rng.choice(task.pool, config.batch_size)  # the global batch
        with autocast:
            loss, terms = task.loss(module, batch[local])
        _check_finite(loss, "loss", step, task, checkpoint)
        optim.zero_grad(set_to_none=True)
        loss.backward()  # DDP averages the gradients over the processes here
        if task.grad_clip is not None:
            norm = nn.utils.clip_grad_norm_(parameters, task.grad_clip)
            _check_finite(norm, "gradient norm", step, task, checkpoint)
        optim.step()
        if task.after_step is not None:
            task.after_step(step)
        number = step + task.count_from
        if number % task.log_every == 0 or step == config.steps - 1:
            if world > 1:
                loss = loss.detach().clone()
                dist.all_reduce(loss)  # the global batch's loss, as one process would log it
                loss /= world
            if rank == 0:
                log.append(_row(task, number, loss, terms, batch, autocast))
                bar.set_postfix({task.loss_key: f"{log[-1][task.loss_key]:.4g}"})
        if checkpoint is not None and rank == 0 and (step + 1) % config.checkpoint_every == 0:
            save_training_state(
                checkpoint, task.model, optim, rng, step + 1, log, task.generators, settings
            )
    return log


def _check_finite(
    value: torch.Tensor, name: str, step: int, task: TrainingTask, checkpoint: Path | None
) -> None:
    """Raise a NonFiniteLossError naming the step and the last good checkpoint unless the
    scalar ``value`` is finite."""
    if bool(torch.isfinite(value)):
        return
    saved = (
        f"the last good training state is {checkpoint}"
        if checkpoint is not None and checkpoint.exists()
        else "no training state was saved"
    )
    raise NonFiniteLossError(
        step,
        f"{task.name}: the {name} is {value.item()} at step {step}; the step was not applied "
        f"and {saved}. Look for NaN or inf in the data, lower the learning rate, or use "
        f"precision=fp32",
    )


def _row(
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
    row = {"step": number, task.loss_key: loss.item(), **terms, **evaluation}
    logger.info("%s %s", task.name, row)
    return row
