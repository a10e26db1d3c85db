"""wmplan/Reacher-v0's task (two-link arm, goal configuration as an image); contract elsewhere."""

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs.reacher import ELBOW_LIMIT, wrap_angle

ENV_ID = "wmplan/Reacher-v0"


def test_sampled_configurations_are_in_range_and_far_enough():
    env = gym.make(ENV_ID).unwrapped
    for seed in range(100000, 100020):
        _, info = env.reset(seed=seed)
        assert abs(env.angles[1]) <= ELBOW_LIMIT and abs(info["goal"][1]) <= ELBOW_LIMIT
        assert info["distance"] >= env.min_goal_distance and not info["success"]


def test_success_test_wraps_angles():
    env = gym.make(ENV_ID, image_size=96)
    obs, info = env.reset(seed=0, options={"start": (0.0, 0.0), "goal": (0.1, 0.1)})
    assert obs["pixels"].shape == (96, 96, 3)
    assert info["success"] and info["distance"] == pytest.approx(np.sqrt(0.02))
    # the shoulder angle is periodic: 3.1 and -3.1 are 0.083 rad apart
    _, info = env.reset(seed=0, options={"start": (3.1, 0.0), "goal": (-3.1, 0.0)})
    assert info["success"] and info["distance"] == pytest.approx(2 * np.pi - 6.2)
    _, info = env.reset(seed=0, options={"start": (0.0, 0.0), "goal": (0.0, 1.5)})
    assert not info["success"] and info["distance"] == pytest.approx(1.5)


def test_action_sets_joint_velocity_and_proprio():
    env = gym.make(ENV_ID).unwrapped
    env.reset(seed=0, options={"start": (0.0, 0.0), "goal": (2.0, 0.0)})
    for _ in range(2):
        obs, reward, terminated, truncated, info = env.step(np.array([1.0, 0.0], np.float32))
    # about max_speed * control_dt = 1 rad per step at full command, minus the spin-up
    assert 1.7 < env.angles[0] < 2.0 and abs(env.angles[1]) < 0.1
    q1, q2 = env.data.qpos[:2]
    np.testing.assert_allclose(
        obs["proprio"][:4], [np.cos(q1), np.sin(q1), np.cos(q2), np.sin(q2)], atol=1e-6
    )
    assert obs["proprio"][4] == pytest.approx(env.max_speed, rel=0.02)
    assert info["success"] and reward == pytest.approx(-info["distance"])
    assert not (terminated or truncated)


def test_goal_image_is_the_arm_at_the_goal_and_the_only_goal_cue():
    env = gym.make(ENV_ID)
    obs, info = env.reset(seed=3, options={"start": (1.2, -0.4), "goal": (1.2, -0.4)})
    np.testing.assert_array_equal(obs["pixels"], info["goal_obs"]["pixels"])
    np.testing.assert_array_equal(obs["proprio"], info["goal_obs"]["proprio"])
    np.testing.assert_array_equal(
        info["goal_obs"]["pixels"], env.unwrapped.goal_observation()["pixels"]
    )
    # no target marker: the observation does not depend on the goal
    obs_other, info_other = env.reset(seed=3, options={"start": (1.2, -0.4), "goal": (-2.0, 2.0)})
    np.testing.assert_array_equal(obs["pixels"], obs_other["pixels"])
    assert not np.array_equal(info_other["goal_obs"]["pixels"], obs_other["pixels"])
    # configurations a full turn apart look the same
    obs_turned, _ = env.reset(seed=3, options={"start": (1.2 + 2 * np.pi, -0.4)})
    np.testing.assert_array_equal(obs["pixels"], obs_turned["pixels"])


def test_wrap_angle():
    np.testing.assert_allclose(
        wrap_angle(np.array([0.5, np.pi, -np.pi, 7.0])), [0.5, -np.pi, -np.pi, 7.0 - 2 * np.pi]
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_speed": -1.0}, "max_speed=-1.0: must be positive"),
        ({"min_goal_distance": 4.0}, "min_goal_distance must be .*, got 4.0"),
    ],
)
def test_bad_config_is_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make(ENV_ID, **kwargs)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"goal": (0.0, 3.0)}, "elbow"),
        ({"start": (1.0,)}, "pair"),
        ({"start": (np.inf, 0.0)}, "finite"),
    ],
)
def test_bad_reset_options_are_rejected(options, message):
    env = gym.make(ENV_ID)
    with pytest.raises(ValueError, match=message):
        env.reset(seed=0, options=options)
