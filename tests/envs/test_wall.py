"""wmplan/Wall-v0's task (DINO-WM's two rooms and a door); contract: test_env_contract."""

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)

ENV_ID = "wmplan/Wall-v0"


def test_start_and_goal_are_sampled_free_in_different_rooms():
    env = gym.make(ENV_ID).unwrapped
    starts_left = 0
    for seed in range(100000, 100030):
        _, info = env.reset(seed=seed)
        assert env.is_free(env.position) and env.is_free(info["goal"])
        assert np.sign(env.position[0]) == -np.sign(info["goal"][0])
        assert not info["success"]
        starts_left += env.position[0] < 0
    assert 5 < starts_left < 25  # both rooms are used for starts
    # with only one of them given, the other is sampled in the opposite room
    _, info = env.reset(seed=1, options={"start": (1.0, -1.0)})
    assert info["goal"][0] < 0
    env.reset(seed=1, options={"goal": (1.0, -1.0)})
    assert env.position[0] < 0


def test_success_test_and_the_wall_and_door():
    env = gym.make(ENV_ID, image_size=96)
    obs, info = env.reset(seed=0, options={"start": (-1.0, -1.0), "goal": (-1.0, -0.8)})
    assert obs["pixels"].shape == (96, 96, 3)
    assert info["success"] and info["distance"] == pytest.approx(0.2)
    assert not np.array_equal(info["goal_obs"]["pixels"], obs["pixels"])
    # below the door, pushing right stops at the wall
    _, info = env.reset(seed=0, options={"start": (-1.0, -1.0), "goal": (1.0, -1.0)})
    assert not info["success"] and info["distance"] == pytest.approx(2.0)
    for _ in range(6):
        obs, reward, terminated, truncated, info = env.step(np.array([1.0, 0.0], np.float32))
    assert obs["proprio"][0] < -0.2 and not info["success"]
    assert reward == pytest.approx(-info["distance"]) and not (terminated or truncated)
    # level with the door (centre y = 0.6), the same push crosses into the right room
    env.reset(seed=0, options={"start": (-1.0, 0.6), "goal": (1.0, 0.6)})
    for _ in range(6):
        obs, *_ = env.step(np.array([1.0, 0.0], np.float32))
    assert obs["proprio"][0] > 0.5


def test_goal_image_is_the_observation_at_the_goal():
    env = gym.make(ENV_ID)
    obs, info = env.reset(seed=3, options={"start": (0.7, 1.1), "goal": (0.7, 1.1)})
    np.testing.assert_array_equal(obs["pixels"], info["goal_obs"]["pixels"])
    np.testing.assert_array_equal(obs["proprio"], info["goal_obs"]["proprio"])
    np.testing.assert_array_equal(
        info["goal_obs"]["pixels"], env.unwrapped.goal_observation()["pixels"]
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"success_threshold": 0.0}, "success_threshold=0.0: must be positive"),
        ({"door_center": 1.3}, "door_center 1.3"),
        ({"door_width": 0.2}, "door_width must exceed .*, got 0.2"),
    ],
)
def test_bad_config_is_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make(ENV_ID, **kwargs)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"goal": (0.0, -1.0)}, "wall"),
        ({"start": (1.49, 0.0)}, "wall"),
        ({"start": (1.0,)}, "pair"),
        ({"goal": (np.nan, 0.0)}, "finite"),
    ],
)
def test_bad_reset_options_are_rejected(options, message):
    env = gym.make(ENV_ID)
    with pytest.raises(ValueError, match=message):
        env.reset(seed=0, options=options)
