"""Distance probe: does latent distance rank pairs of states like their true distance?

A planner minimising the latent goal distance needs that distance to grow with the true
one; a linear probe does not test that. Over random pairs of frames this takes the Spearman
rank correlation between the mean squared feature difference (the planning energy's
distance, `GoalDistance`) and the Euclidean distance of the true states.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _ranks(values: Tensor) -> Tensor:
    """Ranks 0..n-1 of a 1-D tensor (ties broken by order)."""
    ranks = torch.empty_like(values)
    ranks[values.argsort()] = torch.arange(len(values), dtype=values.dtype)
    return ranks


def distance_rank_correlation(
    features: Tensor, states: Tensor, n_pairs: int = 20_000, seed: int = 0
) -> float:
    """Spearman correlation of latent and true distances over random pairs of frames.

    Args:
        features: (F, K) features of F frames (e.g. flattened patch tokens).
        states: (F, S) their true states.
        n_pairs: random pairs drawn (with replacement; pairs of a frame with itself skipped).
        seed: seed of the pair draw.

    Returns:
        The rank correlation in [-1, 1]; 1 means latent distance orders pairs exactly as
        true distance does.
    """
    generator = torch.Generator().manual_seed(seed)
    i = torch.randint(len(features), (n_pairs,), generator=generator)
    j = torch.randint(len(features), (n_pairs,), generator=generator)
    keep = i != j
    i, j = i[keep], j[keep]
    latent = (features[i].double() - features[j].double()).square().mean(dim=1)
    true = (states[i].double() - states[j].double()).norm(dim=1)
    return rank_correlation(latent, true)


def rank_correlation(a: Tensor, b: Tensor) -> float:
    """Spearman correlation of two (n,) tensors: the Pearson correlation of their ranks."""
    ranks = torch.stack([_ranks(a.double()), _ranks(b.double())])
    return float(torch.corrcoef(ranks)[0, 1])
