"""Proprioception as one more token per frame: encoding, prediction, checkpoints, training."""

import numpy as np
import pytest
import torch

from envs.dataset import Episode
from worldmodels.checkpoint import load_world_model, save_world_model
from worldmodels.predictor import LatentPredictor, PredictorConfig
from worldmodels.train_predictor import PredictorTrainConfig, train_predictor
from worldmodels.training_data import flatten_episodes
from worldmodels.vit import DinoVisionTransformer
from worldmodels.world_model import WorldModel

P_VISUAL, D, PROPRIO = 4, 8, 3


def _world_model(seed: int = 0, num_hist: int = 4, scale: float = 2.0) -> WorldModel:
    torch.manual_seed(seed)
    encoder = DinoVisionTransformer(img_size=16, patch_size=8, embed_dim=D, depth=1, num_heads=2)
    config = PredictorConfig(
        token_dim=D, n_tokens=P_VISUAL, action_dim=2, dim=16, depth=2, num_heads=2, proprio_dim=3
    )
    predictor = LatentPredictor(config)
    for layer in (predictor.token_out, predictor.proprio_out):  # not the identity start
        torch.nn.init.normal_(layer.weight, std=0.1)
    return WorldModel(
        encoder,
        predictor.eval(),
        image_size=16,
        pool=1,
        num_hist=num_hist,
        action_mean=torch.zeros(2),
        action_std=torch.ones(2),
        proprio_mean=torch.tensor([1.0, -1.0, 0.0]),
        proprio_std=torch.tensor([2.0, 0.5, 1.0]),
        proprio_scale=scale,
    )


def test_encode_appends_the_scaled_z_scored_proprio_token():
    world_model = _world_model()
    pixels = torch.zeros(2, 3, 16, 16, 3, dtype=torch.uint8)
    proprio = torch.tensor([3.0, 0.0, 5.0]).expand(2, 3, 3)
    z = world_model.encode(pixels, proprio)
    assert z.shape == (2, 3, P_VISUAL + 1, D)
    expected = torch.tensor([2.0 * 1.0, 2.0 * 2.0, 2.0 * 5.0] + [0.0] * (D - 3))
    torch.testing.assert_close(z[:, :, -1], expected.expand(2, 3, D))
    assert torch.equal(world_model.visual_tokens(z), world_model.encode(pixels, proprio)[:, :, :-1])
    with pytest.raises(ValueError, match="takes proprioception"):
        world_model.encode(pixels)
    with pytest.raises(ValueError, match=r"proprio must be \(B, T, p\)"):
        world_model.encode(pixels, torch.zeros(2, 3, 2))


def test_predicted_proprio_tokens_keep_their_zero_padding_and_the_cache_stays_exact():
    world_model = _world_model()
    z_hist = torch.randn(2, 3, P_VISUAL + 1, D)
    z_hist[:, :, -1, PROPRIO:] = 0
    actions, past = torch.randn(2, 4, 2, 2), torch.randn(2, 2, 2)
    with torch.no_grad():
        cached = world_model.rollout(z_hist, actions, past)
        plain = world_model.rollout(z_hist, actions, past, use_cache=False)
    torch.testing.assert_close(cached, plain, rtol=0, atol=1e-5)
    assert torch.equal(plain[..., -1, PROPRIO:], torch.zeros_like(plain[..., -1, PROPRIO:]))
    assert (plain[..., -1, :PROPRIO] - z_hist[:, None, None, -1, -1, :PROPRIO]).abs().max() > 1e-3


def test_statistics_are_required_and_checked():
    predictor = _world_model().predictor
    with pytest.raises(ValueError, match="needs proprio_mean"):
        WorldModel(_world_model().encoder, predictor, 16, 1, 1, torch.zeros(2), torch.ones(2))
    with pytest.raises(ValueError, match="proprio_dim must be in"):
        PredictorConfig(token_dim=4, n_tokens=4, action_dim=2, dim=16, num_heads=2, proprio_dim=5)


def test_checkpoint_round_trip_keeps_the_proprio_statistics(tmp_path):
    world_model = _world_model(scale=0.5)
    save_world_model(world_model, tmp_path)
    loaded = load_world_model(tmp_path)
    assert loaded.proprio_dim == PROPRIO and loaded.proprio_scale == 0.5
    pixels = torch.randint(0, 256, (1, 2, 16, 16, 3), dtype=torch.uint8)
    proprio = torch.randn(1, 2, PROPRIO)
    z = world_model.encode(pixels, proprio)
    assert torch.equal(loaded.encode(pixels, proprio), z)
    actions = torch.randn(1, 3, 2, 2)
    with torch.no_grad():
        torch.testing.assert_close(
            loaded.rollout(z, actions), world_model.rollout(z, actions), rtol=0, atol=1e-6
        )


def test_training_learns_proprio_dynamics_the_pixels_do_not_show():
    """Blank frames; the proprio integrates the actions (q' = q + a, padded). Copying the last
    frame is wrong by the action; the trained predictor must be far better."""
    rng = np.random.default_rng(0)
    episodes = []
    for _ in range(16):
        actions = rng.uniform(-1, 1, (12, 2)).astype(np.float32)
        q = np.concatenate([np.zeros((1, 2)), np.cumsum(actions, 0)]).astype(np.float32)
        episodes.append(
            Episode(np.zeros((13, 16, 16, 3), np.uint8), np.pad(q, ((0, 0), (0, 1))), actions)
        )
    data = flatten_episodes(episodes)
    world_model = _world_model(num_hist=2, scale=1.0)
    world_model.proprio_mean.zero_()
    world_model.proprio_std.fill_(1.0)
    config = PredictorTrainConfig(
        steps=300, batch_size=32, n_frames=2, val_every=300, lr=3e-3, rollout_horizon=2
    )
    log = train_predictor(world_model, data, config, progress=False)
    assert log[-1]["val_loss"] < 0.1 * log[-1]["val_copy_baseline"]
