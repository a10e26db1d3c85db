"""wmplan/PushT-v0's task and its scripted expert (contract: test_env_contract)."""

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs.experts import make_expert
from envs.experts.push_t import PushTExpert
from envs.push_t import (
    GOAL_SHIFT_RANGE,
    GOAL_TURN_RANGE,
    PUSHER_RADIUS,
    TABLE_HALF_EXTENT,
    PushTEnv,
    block_inside_table,
    distance_to_block,
    wrap_angle,
)

ENV_ID = "wmplan/PushT-v0"


@pytest.mark.parametrize(
    ("offset", "success"),
    [
        ((0.0, 0.0, 0.0), True),
        ((0.05, -0.04, 0.3), True),  # 0.064 < 0.08 and 0.3 < pi/9
        ((0.0, 0.0, np.pi / 9 + 0.02), False),
        ((0.0, 0.0, -np.pi / 9 - 0.02), False),
        ((0.06, 0.06, 0.0), False),  # 0.085 > 0.08
        ((0.0, 0.0, 2 * np.pi), True),  # angles are compared modulo 2 pi
    ],
)
def test_success_by_position_and_angle_thresholds(offset, success):
    env = gym.make(ENV_ID)
    goal = np.array([0.1, -0.2, 3.0])
    _, info = env.reset(seed=0, options={"start": goal + offset, "goal": goal})
    assert info["success"] is success
    assert info["position_error"] == pytest.approx(np.linalg.norm(offset[:2]))
    assert info["angle_error"] == pytest.approx(abs(wrap_angle(offset[2])), abs=1e-9)
    # the block rests: doing nothing keeps the verdict
    _, reward, terminated, truncated, info = env.step(np.zeros(2, dtype=np.float32))
    assert info["success"] is success and not terminated and not truncated
    assert reward == pytest.approx(-info["distance"])


def test_block_moves_when_pushed_and_rests_when_not():
    env = gym.make(ENV_ID)
    push_up = np.array([0.0, 0.5], dtype=np.float32)
    # pushing the stem's end straight up through the centre of mass translates
    env.reset(seed=0, options={"start": (0.0, 0.0, 0.0, 0.0, -0.6)})
    for _ in range(12):
        _, _, _, _, info = env.step(push_up)
    pose = info["block_pose"]
    assert pose[1] > 0.15 and abs(pose[0]) < 1e-3 and abs(pose[2]) < 1e-3
    pusher = env.unwrapped.pusher_position
    assert distance_to_block(pusher, pose) > PUSHER_RADIUS - 0.01  # no tunnelling
    # released, it stops within a step and stays put
    env.step(np.zeros(2, dtype=np.float32))
    rest = env.unwrapped.block_pose
    for _ in range(5):
        _, _, _, _, info = env.step(np.zeros(2, dtype=np.float32))
    np.testing.assert_allclose(info["block_pose"], rest, atol=1e-4)
    # pushing the bar's underside off-centre turns it (counter-clockwise from the right)
    env.reset(seed=0, options={"start": (0.0, 0.0, 0.0, 0.2, -0.1)})
    for _ in range(3):
        _, _, _, _, info = env.step(push_up)
    assert info["block_pose"][2] > 0.1
    # pushing away from the block leaves it alone
    env.reset(seed=0, options={"start": (0.0, 0.0, 0.0, 0.0, -0.6)})
    for _ in range(5):
        _, _, _, _, info = env.step(-push_up)
    np.testing.assert_allclose(info["block_pose"], [0.0, 0.0, 0.0], atol=1e-9)


def test_walls_hold_block_and_pusher_at_full_speed():
    env = gym.make(ENV_ID)
    env.reset(seed=0, options={"start": (0.5, 0.0, np.pi / 2, -0.1, 0.0)})
    for _ in range(30):
        obs, _, _, _, info = env.step(np.array([1.0, 0.0], dtype=np.float32))
    assert block_inside_table(info["block_pose"], margin=-0.01)
    pusher = obs["proprio"][:2]
    assert distance_to_block(pusher, info["block_pose"]) > PUSHER_RADIUS - 0.01
    assert np.all(np.abs(pusher) < TABLE_HALF_EXTENT - PUSHER_RADIUS + 0.01)


def test_goal_image_is_the_observation_at_the_goal():
    env = gym.make(ENV_ID, image_size=96)
    state = (-0.2, 0.3, 1.0, 0.5, -0.5)  # block pose and pusher position
    obs, info = env.reset(seed=3, options={"start": state, "goal": state})
    assert obs["pixels"].shape == (96, 96, 3)
    np.testing.assert_array_equal(obs["pixels"], info["goal_obs"]["pixels"])
    np.testing.assert_array_equal(
        info["goal_obs"]["pixels"], env.unwrapped.goal_observation()["pixels"]
    )
    # by default the goal image's pusher waits in the corner farthest from the goal
    obs, info = env.reset(seed=3, options={"goal": state[:3]})
    np.testing.assert_array_equal(env.unwrapped.goal_pusher, [0.8, -0.8])
    at_goal = env.unwrapped.observation_at(np.array(state[:3]), np.array([0.8, -0.8]))
    np.testing.assert_array_equal(info["goal_obs"]["pixels"], at_goal["pixels"])
    assert not np.array_equal(info["goal_obs"]["pixels"], obs["pixels"])
    # rendering the goal left the state alone
    np.testing.assert_array_equal(
        env.unwrapped.observation_at(*_state(env))["pixels"], obs["pixels"]
    )


def _state(env):
    return env.unwrapped.block_pose, env.unwrapped.pusher_position


def test_sampled_starts_and_goals_follow_the_documented_ranges():
    env = gym.make(ENV_ID).unwrapped
    for seed in range(30):
        _, info = env.reset(seed=100_000 + seed)
        start, goal = env.block_pose, info["goal"]
        assert not info["success"]
        assert GOAL_SHIFT_RANGE[0] <= info["position_error"] <= GOAL_SHIFT_RANGE[1]
        assert info["angle_error"] <= GOAL_TURN_RANGE + 1e-9
        assert np.all(np.abs(goal[:2]) <= 0.5) and np.all(np.abs(start[:2]) <= 0.4)
        assert distance_to_block(env.pusher_position, start) >= PUSHER_RADIUS + 0.05
        assert distance_to_block(env.goal_pusher, goal) > PUSHER_RADIUS


def test_goal_for_a_start_far_out_is_the_nearest_goal_area_point():
    env = gym.make(ENV_ID)
    _, info = env.reset(seed=0, options={"start": (0.75, 0.75, 0.0)})
    np.testing.assert_allclose(info["goal"][:2], [0.5, 0.5])
    assert not info["success"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"success_angle_threshold": 0.0}, "success_angle_threshold=0.0: must be positive"),
    ],
)
def test_bad_config_is_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PushTEnv(**kwargs)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"start": (0.0, 0.0)}, "block pose"),
        ({"goal": (0.0, 0.0, np.nan)}, "finite"),
        ({"goal": (0.9, 0.0, 0.0)}, "crosses the walls"),
        ({"start": (0.0, 0.0, 0.0, 0.0, 0.1)}, "overlaps the block"),
        ({"start": (0.0, 0.0, 0.0, 0.99, 0.0)}, "in a wall"),
    ],
)
def test_bad_reset_options_are_rejected(options, message):
    env = gym.make(ENV_ID)
    with pytest.raises(ValueError, match=message):
        env.reset(seed=0, options=options)


@pytest.mark.parametrize("seed", [100_000, 100_001, 100_002])
def test_expert_reaches_benchmark_goals(seed):
    env = gym.make(ENV_ID, image_size=16)
    obs, info = env.reset(seed=seed)
    expert = make_expert(ENV_ID, env)
    expert.reset()
    truncated = False
    while not truncated:
        obs, _, _, truncated, info = env.step(expert(obs))
    assert info["success"], (info["position_error"], info["angle_error"])
    # then it waits where the goal image shows the pusher: the episode ends in the goal's state
    pusher = env.unwrapped.pusher_position
    np.testing.assert_allclose(pusher, env.unwrapped.goal_pusher, atol=0.01)


def test_expert_without_parking_holds_beside_the_block():
    env = gym.make(ENV_ID, image_size=16)
    obs, _ = env.reset(seed=100_000)
    expert = PushTExpert(env.unwrapped, park=False)
    truncated = False
    while not truncated:
        obs, _, _, truncated, info = env.step(expert(obs))
    assert info["success"]
    gap = distance_to_block(env.unwrapped.pusher_position, env.unwrapped.block_pose)
    assert gap - PUSHER_RADIUS < 0.1  # still next to the block, far from the corner


def test_noisy_expert_actions_are_in_bounds():
    env = gym.make(ENV_ID, image_size=16)
    obs, _ = env.reset(seed=5)
    expert = make_expert(ENV_ID, env, noise=0.5, rng=np.random.default_rng(0))
    for _ in range(20):
        action = expert(obs)
        assert action.dtype == np.float32 and env.action_space.contains(action)
        obs, *_ = env.step(action)
    with pytest.raises(ValueError, match="noise"):
        make_expert(ENV_ID, env, noise=-0.1)
