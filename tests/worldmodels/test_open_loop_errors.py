"""Open-loop rollout error at horizons 1..H, on a predictor with a known rollout, and the
copy-last-frame baseline at each horizon."""

import numpy as np
import pytest
import torch

from worldmodels.predictor import LatentPredictor, PredictorConfig
from worldmodels.train_predictor import copy_errors, open_loop_errors
from worldmodels.vit import DinoVisionTransformer
from worldmodels.world_model import WorldModel


def test_an_identity_predictor_errs_by_the_change_over_h_frames():
    # A fresh predictor's output layer is zero: it predicts "nothing moves", so the rollout
    # error at horizon h is the mean squared change between frame t and frame t + h.
    torch.manual_seed(0)
    encoder = DinoVisionTransformer(img_size=32, patch_size=8, embed_dim=8, depth=1, num_heads=2)
    config = PredictorConfig(token_dim=8, n_tokens=16, action_dim=2, dim=16, depth=1, num_heads=2)
    world_model = WorldModel(
        encoder, LatentPredictor(config), 32, 1, 1, torch.zeros(2), torch.ones(2)
    ).eval()
    z = torch.randn(12, 16, 8)
    actions = torch.randn(12, 2)
    starts = np.array([0, 3, 6])
    with torch.no_grad():
        errors = open_loop_errors(world_model, z, actions, starts, horizon=4)
    expected = [
        np.mean([(z[s] - z[s + h]).square().mean().item() for s in starts]) for h in range(1, 5)
    ]
    np.testing.assert_allclose(errors, expected, rtol=1e-5)
    assert open_loop_errors(world_model, z, actions, np.array([], dtype=int), horizon=4) == []


def test_with_frameskip_horizon_h_lies_h_blocks_on():
    torch.manual_seed(0)
    encoder = DinoVisionTransformer(img_size=32, patch_size=8, embed_dim=8, depth=1, num_heads=2)
    config = PredictorConfig(token_dim=8, n_tokens=16, action_dim=4, dim=16, depth=1, num_heads=2)
    world_model = WorldModel(
        encoder, LatentPredictor(config), 32, 1, 1, torch.zeros(4), torch.ones(4)
    ).eval()
    z = torch.randn(12, 16, 8)
    starts = np.array([0, 5])
    with torch.no_grad():
        errors = open_loop_errors(world_model, z, torch.randn(12, 2), starts, 3, frameskip=2)
    expected = [
        np.mean([(z[s] - z[s + 2 * h]).square().mean().item() for s in starts]) for h in (1, 2, 3)
    ]
    np.testing.assert_allclose(errors, expected, rtol=1e-5)


def test_the_copy_baseline_at_horizon_h_compares_the_start_with_h_frames_on():
    z = torch.tensor([i * (i + 1) / 2 for i in range(8)])[:, None, None]  # 0, 1, 3, 6, 10, ...
    # starts 0 and 2: h = 1: ((0 - 1)^2 + (3 - 6)^2) / 2 = 5; h = 2: (9 + 49) / 2 = 29;
    # h = 3: (36 + 144) / 2 = 90
    assert copy_errors(z, np.array([0, 2]), horizon=3) == [5.0, 29.0, 90.0]
    # frame skip 2 from 0: frames 3 and 10 on
    assert copy_errors(z, np.array([0]), horizon=2, frameskip=2) == [9.0, 100.0]
    assert copy_errors(z, np.array([], dtype=int), horizon=2) == []


def test_with_proprio_dim_the_errors_cover_the_proprio_entries_only():
    # Frames of 2 tokens x 3 entries: the visual token changes by 10, the proprio token's
    # first 2 entries by 1 and 3 per frame (its padding stays 0): proprio copy error at
    # horizon h is ((h)^2 + (3h)^2) / 2 = 5 h^2.
    t = torch.arange(6.0)[:, None]
    proprio = torch.cat([t, 3 * t, torch.zeros(6, 1)], dim=1)  # (F, 3)
    z = torch.stack([10 * t.expand(6, 3), proprio], dim=1)  # (F, 2, 3)
    assert copy_errors(z, np.array([0, 1]), horizon=2, proprio_dim=2) == [5.0, 20.0]
    assert copy_errors(z, np.array([0]), horizon=1) == pytest.approx([(300 + 1 + 9) / 6])
