"""`task_state`: the true state each task is judged on, read back from a placed start."""

import gymnasium as gym
import numpy as np
import pytest

import envs
from envs.cube_scene import CUBE_HALF, HOME_EFFECTOR

# env id -> (reset options placing the start, the task state expected there)
PLACED = {
    "wmplan/PointMaze-v0": ({"start": (1.2, -0.4)}, [1.2, -0.4]),
    "wmplan/Wall-v0": ({"start": (-1.2, 0.5)}, [-1.2, 0.5]),
    "wmplan/LargeMaze-v0": ({"start": (4.5, -3.0)}, [4.5, -3.0]),
    "wmplan/Reacher-v0": ({"start": (2.0, -1.5)}, [np.cos(2.0), np.sin(2.0), -1.5]),
    "wmplan/PushT-v0": (
        {"start": (0.1, -0.2, 0.5, 0.7, 0.7)},
        [0.1, -0.2, np.cos(0.5), np.sin(0.5), 0.7, 0.7],
    ),
    "wmplan/Cube-v0": (
        {"start": {"cube": (0.4, 0.1, 0.2)}},
        [0.4, 0.1, CUBE_HALF, *HOME_EFFECTOR],
    ),
}


def test_every_registered_environment_has_a_placed_start_here():
    assert sorted(PLACED) == sorted(envs.ENV_IDS)


@pytest.mark.parametrize("env_id", sorted(PLACED))
def test_task_state_reads_back_the_placed_start(env_id):
    options, expected = PLACED[env_id]
    env = gym.make(env_id, image_size=16).unwrapped
    env.reset(seed=0, options=options)
    state = env.task_state()
    assert state.dtype == np.float32 and state.shape == (len(expected),)
    np.testing.assert_allclose(state, expected, atol=1e-4)
    env.close()


@pytest.mark.parametrize("env_id", sorted(PLACED))
def test_task_state_follows_the_episode(env_id):
    env = gym.make(env_id, image_size=16).unwrapped
    env.reset(seed=1)
    before = env.task_state()
    for _ in range(5):
        env.step(np.ones(env.action_space.shape, np.float32))
    assert not np.allclose(env.task_state(), before)  # the commanded part moved
    env.close()
