"""Environment contract of wmplan/PointMaze-v0."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs
from envs.point_maze import is_free


@pytest.mark.parametrize("env_id", envs.ENV_IDS)
def test_check_env_passes(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=False)
    env.close()


def _rollout(seed: int, steps: int = 8):
    env = gym.make("wmplan/PointMaze-v0")
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    frames, proprio = [obs["pixels"]], [obs["proprio"]]
    for _ in range(steps):
        obs, *_ = env.step(rng.uniform(-1, 1, 2).astype(np.float32))
        frames.append(obs["pixels"])
        proprio.append(obs["proprio"])
    return np.stack(frames), np.stack(proprio), info


def test_two_instances_same_seed_are_identical():
    f1, p1, i1 = _rollout(7)
    f2, p2, i2 = _rollout(7)
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(i1["goal_obs"]["pixels"], i2["goal_obs"]["pixels"])
    f3, _, _ = _rollout(8)
    assert not np.array_equal(f1, f3)


def test_success_test_and_goal_image():
    env = gym.make("wmplan/PointMaze-v0", image_size=96)
    obs, info = env.reset(seed=0, options={"start": (0.9, 0.0), "goal": (1.2, 0.0)})
    assert obs["pixels"].shape == (96, 96, 3)
    assert info["success"] and info["distance"] == pytest.approx(0.3)
    # the goal image is the start image with the ball moved to the goal
    assert info["goal_obs"]["pixels"].shape == obs["pixels"].shape
    assert not np.array_equal(info["goal_obs"]["pixels"], obs["pixels"])
    _, info = env.reset(seed=0, options={"start": (-1.2, 1.2), "goal": (-1.2, -1.2)})
    assert not info["success"] and info["distance"] == pytest.approx(2.4)
    # the ball cannot pass through the inner wall: pushing down keeps it in the top corridor
    for _ in range(6):
        obs, _, _, _, info = env.step(np.array([0.0, -1.0], dtype=np.float32))
    assert obs["proprio"][1] > 0.5 and not info["success"]


def test_goal_image_is_the_observation_at_the_goal():
    env = gym.make("wmplan/PointMaze-v0")
    obs, info = env.reset(seed=3, options={"start": (1.2, -0.4), "goal": (1.2, -0.4)})
    np.testing.assert_array_equal(obs["pixels"], info["goal_obs"]["pixels"])
    np.testing.assert_array_equal(
        info["goal_obs"]["pixels"], env.unwrapped.goal_observation()["pixels"]
    )


def test_sampled_positions_are_free_and_far_enough():
    env = gym.make("wmplan/PointMaze-v0").unwrapped
    for seed in range(20):
        _, info = env.reset(seed=seed)
        assert is_free(env.position) and is_free(info["goal"])
        assert info["distance"] >= env.min_goal_distance


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"image_size": 300}, "image_size"), ({"success_threshold": 0.0}, "positive")],
)
def test_bad_config_is_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make("wmplan/PointMaze-v0", **kwargs)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"goal": (0.0, 0.0)}, "wall"), ({"start": (1.0,)}, "pair"), ({"target": 1}, "unknown")],
)
def test_bad_reset_options_are_rejected(options, message):
    env = gym.make("wmplan/PointMaze-v0")
    with pytest.raises(ValueError, match=message):
        env.reset(seed=0, options=options)
