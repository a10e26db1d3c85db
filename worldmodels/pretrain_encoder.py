"""Self-supervised pretraining of a small DINOv2-architecture encoder on frames.

The objective is VICReg (Bardes, Ponce, LeCun 2022) on the pooled patch-token
grid, the representation the planner compares. The two views of a sample are
independent augmentations (translation, colour jitter, noise) of a frame or,
with probability ``temporal_prob``, of that frame and the next one of its
episode (time-contrastive positives, as in TCN, Sermanet et al. 2018), which
makes embeddings of states a short time apart close, so that latent distance
grows smoothly with the distance between states.

Three variants, chosen by the config:

- ``per_token=True``: one VICReg term per token position, on the tokens
  themselves (the local criterion of VICRegL, Bardes et al. 2022b). Each token
  keeps its spatial identity, so the goal distance tells apart states that look
  alike locally but sit in different places.
- ``expander_dim=None``: VICReg on the flattened token grid itself.
- otherwise: VICReg on an MLP expander of the flattened grid, as in the paper.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from worldmodels.augment import augment
from worldmodels.vicreg import vicreg_loss
from worldmodels.vit import DinoVisionTransformer, imagenet_normalize
from worldmodels.world_model import pool_patch_tokens

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PretrainConfig:
    """Optimisation settings of :func:`pretrain_encoder`; checks itself."""

    steps: int = 1500
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 100
    expander_dim: int | None = 256  # None: VICReg on the representation itself
    temporal_prob: float = 0.5
    cov_weight: float = 1.0
    max_shift: int = 3  # augmentation: largest translation in pixels
    per_token: bool = False  # VICReg per token position (VICRegL-style) instead of on the grid
    pool: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.per_token and self.expander_dim is not None:
            raise ValueError(
                "PretrainConfig.per_token applies VICReg to the tokens themselves: "
                f"expander_dim must be None, got {self.expander_dim}"
            )
        if self.expander_dim is not None and self.expander_dim < 1:
            raise ValueError(f"PretrainConfig.expander_dim must be >= 1, got {self.expander_dim}")
        for name in ("steps", "batch_size", "pool"):
            if getattr(self, name) < 1:
                raise ValueError(f"PretrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ValueError(
                f"PretrainConfig.batch_size must be >= 2 for VICReg, got {self.batch_size}"
            )
        if not 0.0 <= self.temporal_prob <= 1.0:
            raise ValueError(
                f"PretrainConfig.temporal_prob must be in [0, 1], got {self.temporal_prob}"
            )
        if self.lr <= 0:
            raise ValueError(f"PretrainConfig.lr must be > 0, got {self.lr}")


def cosine_lr(step: int, total: int, warmup: int, peak: float) -> float:
    """Linear warm-up then cosine decay to zero."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


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
) -> list[dict[str, float]]:
    """Pretrain ``encoder`` in place with VICReg on ``frames``.

    Args:
        encoder: DINOv2-architecture ViT, trained in place.
        frames: (N, H, W, 3) uint8 frames.
        next_index: (N,) index of the next frame of the same episode, or -1 at an episode end.
        config: optimisation settings.

    Returns:
        Log rows (step, loss, its terms, embedding std, effective rank).
    """
    device = encoder.pos_embed.device
    grid = encoder.patch_grid(frames.shape[1], frames.shape[2])
    n_tokens = (grid[0] // config.pool) * (grid[1] // config.pool)
    expander = (
        nn.Identity()
        if config.expander_dim is None
        else nn.Sequential(
            nn.Linear(n_tokens * encoder.embed_dim, 512),
            nn.BatchNorm1d(512),
            nn.ReLU(),
            nn.Linear(512, config.expander_dim),
        ).to(device)
    )
    params = list(encoder.parameters()) + list(expander.parameters())
    encoder.train().requires_grad_(True)
    optim = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    gen = torch.Generator(device=device).manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    has_next = np.flatnonzero(next_index >= 0)

    def represent(images: torch.Tensor) -> torch.Tensor:
        tokens = encoder.forward_features(imagenet_normalize(images))["x_norm_patchtokens"]
        return pool_patch_tokens(tokens, grid, config.pool)  # (B, P, D)

    def objective(rep: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        if config.per_token:  # one VICReg term per token position, averaged
            losses = [
                vicreg_loss(*rep[:, p].chunk(2), cov_weight=config.cov_weight)
                for p in range(rep.shape[1])
            ]
            terms = {k: sum(t[k] for _, t in losses) / len(losses) for k in losses[0][1]}
            return torch.stack([loss for loss, _ in losses]).mean(), terms
        return vicreg_loss(*expander(rep.flatten(1)).chunk(2), cov_weight=config.cov_weight)

    log = []
    for step in tqdm(range(config.steps), desc="pretrain encoder", disable=not progress):
        for group in optim.param_groups:
            group["lr"] = cosine_lr(step, config.steps, config.warmup_steps, config.lr)
        first = rng.choice(has_next, size=config.batch_size)
        temporal = rng.random(config.batch_size) < config.temporal_prob
        second = np.where(temporal, next_index[first], first)
        pair = torch.from_numpy(frames[np.concatenate([first, second])]).to(device)
        images = augment(pair.permute(0, 3, 1, 2).float() / 255.0, gen, config.max_shift)
        rep = represent(images)
        loss, terms = objective(rep)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 3.0)
        optim.step()
        if step % 50 == 0 or step == config.steps - 1:
            with torch.no_grad():
                row = {
                    "step": step,
                    "loss": loss.item(),
                    **terms,
                    "rep_std": rep.std(0).mean().item(),
                    "rep_effective_rank": effective_rank(rep.detach()),
                }
            logger.info("pretrain %s", row)
            log.append(row)
    encoder.eval().requires_grad_(False)
    return log
