"""Latent macro-actions (HWM): the predictor's macro-action encoder, rollouts over latent
actions, and the high-level checkpoint saved beside a world model."""

import shutil

import pytest
import torch

from worldmodels.checkpoint import (
    HIGH_LEVEL_DIR,
    load_high_level,
    load_world_model,
    save_world_model,
)
from worldmodels.errors import CheckpointError
from worldmodels.predictor import LatentPredictor, PredictorConfig
from worldmodels.vit import DinoVisionTransformer
from worldmodels.world_model import WorldModel

BLOCK = 6  # a block of 3 raw 2-D actions


def world_model(latent_action_dim: int, seed: int = 0, num_hist: int = 3) -> WorldModel:
    torch.manual_seed(seed)
    encoder = DinoVisionTransformer(img_size=16, patch_size=8, embed_dim=8, depth=1, num_heads=2)
    config = PredictorConfig(token_dim=8, n_tokens=4, action_dim=BLOCK, dim=8, depth=2,
                             num_heads=2, proprio_dim=3,
                             latent_action_dim=latent_action_dim)  # fmt: skip
    predictor = LatentPredictor(config)
    torch.nn.init.normal_(predictor.token_out.weight, std=0.3)  # not the identity map
    return WorldModel(
        encoder=encoder,
        predictor=predictor.eval(),
        image_size=16,
        pool=1,
        num_hist=num_hist,
        action_mean=torch.full((BLOCK,), 0.1),
        action_std=torch.full((BLOCK,), 0.5),
        proprio_mean=torch.zeros(3),
        proprio_std=torch.ones(3),
        frameskip=3,
    )


def test_latent_actions_give_the_raw_blocks_predictions_exactly():
    wm = world_model(latent_action_dim=4)
    z = torch.randn(2, 3, 5, 8)
    blocks = torch.randn(2, 3, BLOCK)
    latent = wm.predictor.encode_actions(blocks)
    assert latent.shape == (2, 3, 4)
    assert latent.abs().max() < 1.0  # tanh: inside the box the planner searches
    got = wm.predictor(z, latent, latent_actions=True)
    torch.testing.assert_close(got, wm.predictor(z, blocks), rtol=0, atol=0)


@pytest.mark.parametrize("use_cache", [True, False])
def test_rollout_over_latent_actions_matches_the_raw_rollout(use_cache):
    wm = world_model(latent_action_dim=4)
    z_hist = torch.randn(2, 2, 5, 8)
    raw = torch.randn(2, 4, 2, BLOCK)  # (B, N, H, K*A)
    past = torch.randn(2, 1, BLOCK)
    latent = wm.predictor.encode_actions(wm.normalize_actions(raw))
    latent_past = wm.predictor.encode_actions(wm.normalize_actions(past))
    with torch.no_grad():
        expected = wm.rollout(z_hist, raw, past, use_cache=False)
        got = wm.rollout(z_hist, latent, latent_past, use_cache=use_cache, latent_actions=True)
    assert got.shape == (2, 4, 2, 5, 8)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_latent_actions_are_refused_where_they_do_not_fit():
    with pytest.raises(ValueError, match="latent_action_dim must be >= 0"):
        PredictorConfig(token_dim=8, n_tokens=4, action_dim=2, latent_action_dim=-1)
    plain, macro = world_model(latent_action_dim=0), world_model(latent_action_dim=4)
    z_hist = torch.randn(1, 1, 5, 8)
    with pytest.raises(ValueError, match="without latent actions"):
        plain.rollout(z_hist, torch.zeros(1, 1, 1, 4), latent_actions=True)
    with pytest.raises(ValueError, match="latent actions have dim 6, world model expects 4"):
        macro.rollout(z_hist, torch.zeros(1, 1, 1, BLOCK), latent_actions=True)
    with pytest.raises(ValueError, match="no latent actions"):
        plain.predictor.encode_actions(torch.zeros(1, BLOCK))


def test_high_level_checkpoint_round_trip_and_encoder_check(tmp_path):
    low = world_model(latent_action_dim=0)
    directory = save_world_model(low, tmp_path / "model")
    assert load_high_level(directory) is None
    high = world_model(latent_action_dim=4, seed=1)
    high.encoder.load_state_dict(low.encoder.state_dict())  # the same frozen encoder
    save_world_model(high, directory / HIGH_LEVEL_DIR)
    loaded = load_high_level(directory)
    assert loaded.latent_action_dim == 4 and loaded.frameskip == 3
    z_hist, latent = torch.randn(1, 1, 5, 8), torch.rand(1, 3, 2, 4) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(loaded.rollout(z_hist, latent, latent_actions=True),
                                   high.rollout(z_hist, latent, latent_actions=True))  # fmt: skip
    # a high level on another encoder plans subgoals in another latent space: refused
    other = tmp_path / "other"
    shutil.copytree(directory, other)
    save_world_model(world_model(latent_action_dim=4, seed=2), other / HIGH_LEVEL_DIR)
    with pytest.raises(CheckpointError, match="another encoder"):
        load_high_level(other)
    # a plain world model in high_level/ has no macro-actions to plan over
    save_world_model(low, other / HIGH_LEVEL_DIR)
    with pytest.raises(CheckpointError, match="latent_action_dim"):
        load_high_level(other)
    assert load_world_model(directory).latent_action_dim == 0
