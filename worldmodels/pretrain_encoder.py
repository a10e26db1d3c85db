"""Self-supervised pretraining of a small DINOv2-architecture encoder on frames.

Two collapse-free objectives, chosen by the type of ``PretrainConfig.objective``:

- :class:`~worldmodels.vicreg.VICRegConfig`: VICReg (Bardes, Ponce, LeCun 2022)
  on the pooled patch-token grid, the representation the planner compares.
- :class:`~worldmodels.dino.DINOConfig`: DINO self-distillation (Caron et al.
  2021) with an EMA teacher and multi-crop, on the cls token.

The positive pairs of a batch are a frame and, with probability
``temporal_prob``, the next frame of its episode (time-contrastive positives, as
in TCN, Sermanet et al. 2018) or else the same frame; each objective draws its
own augmented views of them. Consecutive states thus embed close together, so
that latent distance grows smoothly with the distance between states.

Collapse diagnostics are logged every 50 steps on the planning representation
(pooled patch tokens of un-augmented frames): the mean per-dimension standard
deviation over the batch and the effective rank.

The loop (schedule, bf16, checkpoints) is :func:`worldmodels.train_loop.train_loop`. The
training state holds the encoder and the whole objective (DINO's EMA teacher, its heads and
centering buffer; VICReg's expander) and the augmentations' torch generator besides the
batch sampler, so a killed run resumes exactly. Training runs in one process: both
objectives use statistics of the whole batch (VICReg's variance and covariance, DINO's
Sinkhorn centering), which per-process slices would change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from worldmodels.dino import DINOConfig, DINOObjective
from worldmodels.distributed import require_single_process
from worldmodels.frames import frames_to_images
from worldmodels.train_loop import TrainConfig, TrainingTask, check_at_least_one, train_loop
from worldmodels.vicreg import VICRegConfig, VICRegObjective
from worldmodels.vit import DinoVisionTransformer, imagenet_normalize
from worldmodels.world_model import pool_patch_tokens

LOG_EVERY = 50  # steps between collapse diagnostics


@dataclass(frozen=True)
class PretrainConfig(TrainConfig):
    """Settings of :func:`pretrain_encoder` (besides the loop's); checks itself."""

    steps: int = 1500
    weight_decay: float = 0.05
    temporal_prob: float = 1.0
    pool: int = 2
    objective: VICRegConfig | DINOConfig = field(default_factory=VICRegConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_at_least_one(self, "pool")
        if self.batch_size < 2:
            raise ValueError(
                f"PretrainConfig.batch_size must be >= 2 (batch statistics), got {self.batch_size}"
            )
        if not 0.0 <= self.temporal_prob <= 1.0:
            raise ValueError(
                f"PretrainConfig.temporal_prob must be in [0, 1], got {self.temporal_prob}"
            )
        if self.lr <= 0:
            raise ValueError(f"PretrainConfig.lr must be > 0, got {self.lr}")
        if not isinstance(self.objective, VICRegConfig | DINOConfig):
            raise ValueError(
                "PretrainConfig.objective must be a VICRegConfig or a DINOConfig, "
                f"got {type(self.objective).__name__}"
            )

    @property
    def objective_name(self) -> str:
        return "dino" if isinstance(self.objective, DINOConfig) else "vicreg"


def effective_rank(z: torch.Tensor) -> float:
    """Entropy-based effective rank (Roy & Vetterli 2007) of embeddings (B, E)."""
    s = torch.linalg.svdvals(z - z.mean(0))
    p = s / s.sum()
    return float(torch.exp(-(p * torch.log(p + 1e-12)).sum()))


def pretrain_encoder(
    encoder: DinoVisionTransformer,
    frames: np.ndarray,
    next_index: np.ndarray,
    config: PretrainConfig,
    progress: bool = True,
    checkpoint: Path | None = None,
) -> list[dict[str, float]]:
    """Pretrain ``encoder`` in place on ``frames``, then freeze it.

    Args:
        encoder: DINOv2-architecture ViT, trained in place.
        frames: (N, S, S, 3) uint8 square frames.
        next_index: (N,) index of the next frame of the same episode, or -1 at an episode end.
        config: optimisation settings and the objective.
        progress: show a progress bar.
        checkpoint: optional training-state file (``.safetensors``), written every
            ``config.checkpoint_every`` steps; a run that finds one resumes from it exactly.

    Returns:
        Log rows (step, loss, the objective's terms, representation std, effective rank).
    """
    require_single_process("encoder pretraining", "VICReg and DINO use whole-batch statistics")
    device = encoder.pos_embed.device
    grid = encoder.patch_grid(frames.shape[1], frames.shape[2])
    n_tokens = (grid[0] // config.pool) * (grid[1] // config.pool)

    def represent(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
        tokens = model.forward_features(imagenet_normalize(images))["x_norm_patchtokens"]
        return pool_patch_tokens(tokens, grid, config.pool)  # (B, P, D)

    if isinstance(config.objective, DINOConfig):
        objective = DINOObjective(encoder, config.objective, image_size=frames.shape[1])
    else:
        objective = VICRegObjective(config.objective, represent, n_tokens, encoder.embed_dim)
    objective.to(device)
    encoder.train().requires_grad_(True)
    trained = nn.ModuleDict({"encoder": encoder, "objective": objective})
    gen = torch.Generator(device=device).manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)

    def images_of(index: np.ndarray) -> torch.Tensor:
        return frames_to_images(frames[index], device)  # (B, 3, S, S)

    def loss(_: nn.Module, first: np.ndarray) -> tuple[torch.Tensor, dict[str, float]]:
        temporal = rng.random(len(first)) < config.temporal_prob
        second = np.where(temporal, next_index[first], first)
        return objective.loss(encoder, images_of(first), images_of(second), gen)

    def diagnose(first: np.ndarray) -> dict[str, float]:
        rep = represent(encoder, images_of(first)).flatten(1).float()  # (B, P * D)
        return {"rep_std": rep.std(0).mean().item(), "rep_effective_rank": effective_rank(rep)}

    task = TrainingTask(
        name="pretrain encoder",
        model=trained,
        pool=np.flatnonzero(next_index >= 0),
        loss=loss,
        evaluate=diagnose,
        log_every=LOG_EVERY,
        count_from=0,
        loss_key="loss",
        grad_clip=3.0,
        after_step=lambda step: objective.after_step(encoder, step, config.steps),
        generators={"augment": gen},
    )
    log = train_loop(config, task, rng, progress, checkpoint)
    objective.finish(encoder)
    encoder.eval().requires_grad_(False)
    return log
