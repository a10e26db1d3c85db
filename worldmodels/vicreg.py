"""VICReg loss (Bardes, Ponce, LeCun 2022, "VICReg: Variance-Invariance-Covariance
Regularization for Self-Supervised Learning")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from worldmodels.augment import augment


def off_diagonal(m: torch.Tensor) -> torch.Tensor:
    """Off-diagonal entries of a square matrix (n, n) -> (n*n - n,)."""
    n = m.shape[0]
    return m.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def vicreg_loss(
    x: torch.Tensor,
    y: torch.Tensor,
    sim_weight: float = 25.0,
    var_weight: float = 25.0,
    cov_weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """VICReg between two batches of embeddings of paired views.

    Args:
        x, y: (B, E) expander outputs of two views of the same B samples.

    Returns:
        The scalar loss and its terms (invariance, variance, covariance) for logging.
    """
    B, E = x.shape
    invariance = F.mse_loss(x, y)
    x = x - x.mean(dim=0)
    y = y - y.mean(dim=0)
    std_x = torch.sqrt(x.var(dim=0) + 1e-4)
    std_y = torch.sqrt(y.var(dim=0) + 1e-4)
    variance = (F.relu(1 - std_x).mean() + F.relu(1 - std_y).mean()) / 2
    cov_x = x.T @ x / (B - 1)
    cov_y = y.T @ y / (B - 1)
    covariance = (off_diagonal(cov_x).pow(2).sum() + off_diagonal(cov_y).pow(2).sum()) / E
    loss = sim_weight * invariance + var_weight * variance + cov_weight * covariance
    terms = {
        "invariance": invariance.item(),
        "variance": variance.item(),
        "covariance": covariance.item(),
    }
    return loss, terms


@dataclass(frozen=True)
class VICRegConfig:
    """Settings of the VICReg objective on the planning representation; checks itself.

    Three variants:

    - ``per_token=True``: one VICReg term per token position, on the tokens
      themselves (the local criterion of VICRegL, Bardes, Ponce, LeCun 2022b,
      "VICRegL: Self-Supervised Learning of Local Visual Features"). Each token
      keeps its spatial identity, so the goal distance tells apart states that look
      alike locally but sit in different places. ``global_weight`` (VICRegL's alpha)
      mixes in VICReg on the tokens' average, the global criterion, so that the
      image as a whole, not only the tokens where something moved, varies with the
      state: the loss is ``(1 - global_weight) * local + global_weight * global``.
    - ``expander_dim=None``: VICReg on the flattened token grid itself.
    - otherwise: VICReg on an MLP expander of the flattened grid, as in the paper.
    """

    expander_dim: int | None = 256
    cov_weight: float = 1.0
    max_shift: int = 0  # augmentation: largest translation in pixels
    per_token: bool = False
    global_weight: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.global_weight <= 1.0:
            raise ValueError(
                f"VICRegConfig.global_weight must be in [0, 1], got {self.global_weight}"
            )
        if self.global_weight > 0 and not self.per_token:
            raise ValueError(
                "VICRegConfig.global_weight mixes a global term into the per-token loss: "
                "it needs per_token=True"
            )
        if self.per_token and self.expander_dim is not None:
            raise ValueError(
                "VICRegConfig.per_token applies VICReg to the tokens themselves: "
                f"expander_dim must be None, got {self.expander_dim}"
            )
        if self.expander_dim is not None and self.expander_dim < 1:
            raise ValueError(f"VICRegConfig.expander_dim must be >= 1, got {self.expander_dim}")


class VICRegObjective(nn.Module):
    """VICReg on the pooled patch-token grid, the representation the planner compares.

    Args:
        config: VICReg settings.
        represent: (encoder, images (B, 3, S, S) in [0, 1]) -> representation (B, P, D).
        n_tokens, embed_dim: P and D of that representation.
    """

    def __init__(
        self,
        config: VICRegConfig,
        represent: Callable[[nn.Module, torch.Tensor], torch.Tensor],
        n_tokens: int,
        embed_dim: int,
    ) -> None:
        super().__init__()
        self.config = config
        self.represent = represent
        self.expander = (
            nn.Identity()
            if config.expander_dim is None
            else nn.Sequential(
                nn.Linear(n_tokens * embed_dim, 512),
                nn.BatchNorm1d(512),
                nn.ReLU(),
                nn.Linear(512, config.expander_dim),
            )
        )

    def loss(
        self,
        encoder: nn.Module,
        first: torch.Tensor,
        second: torch.Tensor,
        generator: torch.Generator,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """VICReg between augmented views of the pairs (first[i], second[i]), (B, 3, S, S)."""
        cfg = self.config
        images = augment(torch.cat([first, second]), generator, cfg.max_shift)
        rep = self.represent(encoder, images)  # (2B, P, D)
        if cfg.per_token:  # one VICReg term per token position, averaged
            losses = [
                vicreg_loss(*rep[:, p].chunk(2), cov_weight=cfg.cov_weight)
                for p in range(rep.shape[1])
            ]
            terms = {k: sum(t[k] for _, t in losses) / len(losses) for k in losses[0][1]}
            local = torch.stack([loss for loss, _ in losses]).mean()
            if cfg.global_weight == 0:
                return local, terms
            whole, whole_terms = vicreg_loss(*rep.mean(dim=1).chunk(2), cov_weight=cfg.cov_weight)
            terms |= {f"global_{k}": v for k, v in whole_terms.items()}
            return (1 - cfg.global_weight) * local + cfg.global_weight * whole, terms
        return vicreg_loss(*self.expander(rep.flatten(1)).chunk(2), cov_weight=cfg.cov_weight)

    def after_step(self, encoder: nn.Module, step: int, total: int) -> None:
        """Nothing to update: VICReg has no teacher."""

    def finish(self, encoder: nn.Module) -> None:
        """Nothing to copy: the trained encoder is the one kept."""
