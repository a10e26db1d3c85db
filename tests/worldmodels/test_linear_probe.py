"""The linear probe on features with known relations to the state."""

import numpy as np
import pytest
import torch

from worldmodels.linear_probe import fit_ridge, linear_probe, patch_features
from worldmodels.vit import DinoVisionTransformer


def split(features, states, n_train=400):
    return features[:n_train], states[:n_train], features[n_train:], states[n_train:]


def test_features_linear_in_the_state_are_probed_perfectly():
    generator = torch.Generator().manual_seed(0)
    states = torch.rand(600, 2, generator=generator) * 4 - 2
    mixing = torch.randn(2, 50, generator=generator)
    features = states @ mixing + 0.3 + 1e-4 * torch.randn(600, 50, generator=generator)
    result = linear_probe(*split(features, states))
    assert (result.r2 > 0.999).all() and (result.rmse < 0.01).all()


def test_features_independent_of_the_state_give_no_held_out_fit():
    generator = torch.Generator().manual_seed(0)
    states = torch.rand(600, 2, generator=generator)
    features = torch.randn(600, 200, generator=generator)
    result = linear_probe(*split(features, states))
    assert (result.r2 < 0.05).all()
    # RMSE of predicting the mean of a uniform [0, 1] variable: 1 / sqrt(12).
    assert result.rmse == pytest.approx(torch.full((2,), 12**-0.5), rel=0.1)


def test_patch_features_are_the_flattened_normalised_patch_tokens():
    torch.manual_seed(0)
    encoder = DinoVisionTransformer(img_size=32, patch_size=8, embed_dim=8, depth=1, num_heads=2)
    pixels = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    features = patch_features(encoder.eval(), pixels, batch=2)
    assert features.shape == (5, 16 * 8)
    one = patch_features(encoder.eval(), pixels[3:4])
    torch.testing.assert_close(features[3:4], one)
    mean = patch_features(encoder.eval(), pixels, reduce="mean")
    torch.testing.assert_close(mean, features.view(5, 16, 8).mean(dim=1))


def test_mismatched_rows_are_rejected():
    with pytest.raises(ValueError, match="same number of rows"):
        linear_probe(torch.zeros(10, 3), torch.zeros(9, 2), torch.zeros(4, 3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"got train features \(10, 3\) and states \(9, 2\)"):
        linear_probe(torch.zeros(10, 3), torch.zeros(9, 2), torch.zeros(4, 3), torch.zeros(4, 2))


def test_patch_features_name_what_they_reject():
    encoder = DinoVisionTransformer(img_size=32, patch_size=8, embed_dim=8, depth=1, num_heads=2)
    pixels = np.zeros((2, 32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="reduce must be 'flatten' or 'mean', got 'max'"):
        patch_features(encoder, pixels, reduce="max")
    with pytest.raises(ValueError, match=r"got float32 of shape \(2, 32, 32, 3\)"):
        patch_features(encoder, pixels.astype(np.float32))


def test_fit_ridge_recovers_a_linear_map_on_new_rows():
    generator = torch.Generator().manual_seed(1)
    states = torch.rand(500, 2, generator=generator) * 10 - 5
    mixing = torch.randn(2, 30, generator=generator)
    features = states @ mixing - 2.0
    probe = fit_ridge(features[:400], states[:400])
    torch.testing.assert_close(probe(features[400:]), states[400:].double(), atol=1e-2, rtol=0)
    with pytest.raises(ValueError, match=r"features \(10, 3\) and states \(9, 2\)"):
        fit_ridge(torch.zeros(10, 3), torch.zeros(9, 2))
