"""Scripted experts of PointMaze, Wall, Reacher and LargeMaze reach benchmark goals in budget."""

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs.experts import make_expert
from envs.experts.point_maze import segment_is_clear
from envs.point_maze import U_MAZE

ENV_IDS = ("wmplan/PointMaze-v0", "wmplan/Wall-v0", "wmplan/Reacher-v0", "wmplan/LargeMaze-v0")


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_expert_reaches_benchmark_goals_within_budget(env_id):
    env = gym.make(env_id)
    for seed in range(100000, 100004):  # benchmark seeds
        obs, info = env.reset(seed=seed)
        expert = make_expert(env_id, env)
        expert.reset()
        truncated = False
        while not truncated:
            action = expert(obs)
            assert action.dtype == np.float32 and env.action_space.contains(action)
            obs, _, _, truncated, info = env.step(action)
        assert info["success"], f"{env_id} seed {seed}: final distance {info['distance']:.3f}"
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_noisy_expert_is_bounded_and_reproducible(env_id):
    env = gym.make(env_id)
    obs, _ = env.reset(seed=0)
    actions = []
    for _ in range(2):
        expert = make_expert(env_id, env, noise=0.5, rng=np.random.default_rng(1))
        actions.append(np.stack([expert(obs) for _ in range(20)]))
    np.testing.assert_array_equal(actions[0], actions[1])
    assert np.all(np.abs(actions[0]) <= 1.0) and np.unique(actions[0], axis=0).shape[0] > 1
    with pytest.raises(ValueError, match="noise"):
        make_expert(env_id, env, noise=-0.1)


def test_wall_expert_goes_through_the_door():
    env = gym.make("wmplan/Wall-v0").unwrapped
    obs, _ = env.reset(seed=0, options={"start": (-1.3, -1.3), "goal": (1.3, -1.3)})
    expert = make_expert("wmplan/Wall-v0", env)
    crossings = []
    for _ in range(30):
        previous = env.position
        obs, _, _, _, info = env.step(expert(obs))
        if np.sign(previous[0]) != np.sign(env.position[0]):
            crossings.append(env.position[1])
    assert info["success"] and len(crossings) == 1
    assert abs(crossings[0] - env.door_center) < env.door_width / 2


def test_cell_path_follows_the_u():
    # top-left cell to bottom-left cell: all the way round the inner wall
    assert U_MAZE.cell_path((1, 1), (3, 1)) == [
        (1, 1),
        (1, 2),
        (1, 3),
        (2, 3),
        (3, 3),
        (3, 2),
        (3, 1),
    ]
    assert U_MAZE.cell_path((2, 3), (2, 3)) == [(2, 3)]


def test_segment_is_clear_known_answers():
    box = [(-0.5, 0.5, -0.5, 0.5)]
    start, end = np.array([-1.0, 0.0]), np.array([1.0, 0.0])
    assert not segment_is_clear(start, end, box, margin=0.1)
    assert segment_is_clear(start + [0, 0.7], end + [0, 0.7], box, margin=0.1)
    assert not segment_is_clear(start + [0, 0.55], end + [0, 0.55], box, margin=0.1)
    assert segment_is_clear(start, np.array([-0.7, 0.0]), box, margin=0.1)  # stops short
    assert segment_is_clear(np.array([-1.0, -1.0]), np.array([1.0, -1.0]), box, margin=0.1)
