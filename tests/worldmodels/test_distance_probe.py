"""The distance probe on features with known distance structure."""

import torch

from worldmodels.distance_probe import distance_rank_correlation


def test_features_that_embed_the_state_isometrically_correlate_perfectly():
    states = torch.rand(300, 2, generator=torch.Generator().manual_seed(0))
    rotation = torch.linalg.qr(torch.randn(2, 2, generator=torch.Generator().manual_seed(1)))[0]
    features = states @ rotation + 5.0  # distances preserved exactly
    assert distance_rank_correlation(features, states, n_pairs=5000) > 0.999


def test_unrelated_features_do_not_correlate():
    generator = torch.Generator().manual_seed(0)
    states, features = torch.rand(300, 2, generator=generator), torch.randn(300, 50)
    assert abs(distance_rank_correlation(features, states, n_pairs=5000)) < 0.05
