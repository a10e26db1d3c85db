"""wmplan/LargeMaze-v0's task: D4RL's large maze with far goals (contract: test_env_contract)."""

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs.errors import EnvArgumentError


def test_sampled_goals_are_far_along_the_maze():
    env = gym.make("wmplan/LargeMaze-v0", image_size=16).unwrapped
    for seed in range(100000, 100030):
        _, info = env.reset(seed=seed)
        assert env.is_free(env.position) and env.is_free(info["goal"])
        assert env.layout.path_cells(env.position, env.goal) >= env.min_goal_cells == 12


def test_min_goal_cells_sets_the_split():
    env = gym.make("wmplan/LargeMaze-v0", image_size=16, min_goal_cells=18).unwrapped
    env.reset(seed=0)
    assert env.layout.path_cells(env.position, env.goal) >= 18
    with pytest.raises(ValueError, match="min_goal_cells must lie in"):
        gym.make("wmplan/LargeMaze-v0", min_goal_cells=20)


def test_a_start_without_a_far_goal_needs_a_goal():
    env = gym.make("wmplan/LargeMaze-v0", image_size=16).unwrapped
    with pytest.raises(EnvArgumentError, match=r"no free cell 12 or more cells away"):
        env.reset(seed=0, options={"start": (-0.5, 1.0)})  # at most 10 cells from anywhere
    _, info = env.reset(seed=0, options={"start": (-0.5, 1.0), "goal": (4.5, -3.0)})
    assert info["distance"] == pytest.approx(np.hypot(5.0, 4.0))


def test_walls_are_solid_and_the_arena_is_the_maze():
    env = gym.make("wmplan/LargeMaze-v0", image_size=16)
    obs, _ = env.reset(seed=0, options={"start": (-4.5, 3.0), "goal": (4.5, -3.0)})
    for _ in range(6):  # pushed up into the border wall: the ball stays below it
        obs, *_ = env.step(np.array([0.0, 1.0], np.float32))
    assert 3.1 < obs["proprio"][1] < 3.5 - 0.3 + 1e-3
    with pytest.raises(EnvArgumentError, match=r"outside the arena.*\[-3.2, 3.2\]"):
        env.reset(seed=0, options={"start": (-4.5, 5.0)})  # beyond the border row
