"""The world model's surprise: per-step prediction error against the observed next frame."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401  (registers the environments)
from worldmodels.checkpoint import load_world_model
from worldmodels.predictor import LatentPredictor, PredictorConfig
from worldmodels.vit import DinoVisionTransformer
from worldmodels.world_model import WorldModel


def tiny_world_model(num_hist: int) -> WorldModel:
    torch.manual_seed(0)
    encoder = DinoVisionTransformer(img_size=32, patch_size=8, embed_dim=8, depth=1, num_heads=2)
    config = PredictorConfig(token_dim=8, n_tokens=4, action_dim=2, dim=16, depth=2, num_heads=2)
    predictor = LatentPredictor(config)
    torch.nn.init.normal_(predictor.token_out.weight, std=0.1)  # not the identity start
    return WorldModel(
        encoder=encoder,
        predictor=predictor.eval(),
        image_size=32,
        pool=2,
        num_hist=num_hist,
        action_mean=torch.tensor([0.1, -0.2]),
        action_std=torch.tensor([0.5, 2.0]),
    )


@pytest.mark.parametrize("num_hist", [1, 3])
def test_surprise_is_the_error_of_a_one_step_rollout_from_the_observed_history(num_hist):
    world_model = tiny_world_model(num_hist)
    B, T = 2, 7
    z = torch.randn(B, T, 4, 8)
    actions = torch.randn(B, T - 1, 2)
    surprise = world_model.surprise(z, actions)
    assert surprise.shape == (B, T - 1)
    for t in range(T - 1):
        start = max(0, t - num_hist + 1)
        pred = world_model.rollout(
            z[:, start : t + 1], actions[:, t, None, None], past_actions=actions[:, start:t]
        )[:, 0, 0]
        expected = (pred - z[:, t + 1]).square().mean(dim=(1, 2))
        torch.testing.assert_close(surprise[:, t], expected, rtol=1e-5, atol=1e-6)


def test_bad_shapes_are_named():
    world_model = tiny_world_model(1)
    with pytest.raises(ValueError, match=r"actions \(B, T-1, A\) = \(2, 4, 2\)"):
        world_model.surprise(torch.randn(2, 5, 4, 8), torch.randn(2, 5, 2))


def test_surprise_spikes_when_the_ball_is_teleported():
    root = "worldmodels/assets/pointmaze"
    world_model = load_world_model(root)
    env = gym.make("wmplan/PointMaze-v0", image_size=world_model.image_size)
    start, goal, far = np.array([-1.0, -1.0]), np.array([1.0, 1.0]), np.array([1.0, -1.0])
    obs, _ = env.reset(seed=0, options={"start": start, "goal": goal})
    rng = np.random.default_rng(0)
    frames, actions, teleport_at = [obs["pixels"]], [], 5
    for step in range(10):
        action = rng.uniform(-0.3, 0.3, size=2).astype(np.float32)
        obs, *_ = env.step(action)
        if step == teleport_at:  # the ball jumps to the far corner of the U
            obs, _ = env.reset(options={"start": far, "goal": goal})
        frames.append(obs["pixels"])
        actions.append(action)
    z = world_model.encode(torch.from_numpy(np.stack(frames))[None])
    surprise = world_model.surprise(z, torch.from_numpy(np.stack(actions))[None])[0]
    others = torch.cat([surprise[:teleport_at], surprise[teleport_at + 1 :]])
    assert surprise.argmax() == teleport_at
    assert surprise[teleport_at] > 5 * others.max()
