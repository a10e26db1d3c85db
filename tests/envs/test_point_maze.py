"""wmplan/PointMaze-v0's task: the U-maze, goals and success (contract: test_env_contract)."""

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs.point_maze import is_free


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
    [({"success_threshold": 0.0}, "success_threshold=0.0: must be positive")],
)
def test_bad_config_is_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make("wmplan/PointMaze-v0", **kwargs)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"goal": (0.0, 0.0)}, "wall"), ({"start": (1.0,)}, "pair")],
)
def test_bad_reset_options_are_rejected(options, message):
    env = gym.make("wmplan/PointMaze-v0")
    with pytest.raises(ValueError, match=message):
        env.reset(seed=0, options=options)
