"""VICReg loss (Bardes, Ponce, LeCun 2022, "VICReg: Variance-Invariance-Covariance
Regularization for Self-Supervised Learning")."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
