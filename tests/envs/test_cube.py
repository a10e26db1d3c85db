"""wmplan/Cube-v0's task and its scripted expert (contract: test_env_contract)."""

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs.cube import CUBE_HALF, CUBE_REGION, HOME_EFFECTOR, arm_inverse_kinematics
from envs.experts import make_expert

ENV_ID = "wmplan/Cube-v0"


def test_inverse_kinematics_reaches_the_target_with_the_gripper_down():
    env = gym.make(ENV_ID).unwrapped
    for target in ([0.25, -0.2, 0.02], [0.6, 0.25, 0.25], HOME_EFFECTOR):
        # the effector start option places the arm by inverse kinematics
        env.reset(seed=0, options={"start": {"cube": (0.45, 0.0), "effector": target}})
        np.testing.assert_allclose(env.data.qpos[:5], arm_inverse_kinematics(np.array(target)))
        np.testing.assert_allclose(env.effector_position, target, atol=1e-9)
        axes = env.data.xmat[env.model.body("gripper").id].reshape(3, 3)
        np.testing.assert_allclose(axes[:, 2], [0, 0, -1], atol=1e-9)  # pointing down
        np.testing.assert_allclose(axes[:, 1], [0, 1, 0], atol=1e-9)  # fingers close along y


def test_actions_move_the_effector_by_max_step():
    env = gym.make(ENV_ID)
    obs, _ = env.reset(seed=0, options={"start": {"cube": (0.6, 0.2), "effector": (0.4, 0, 0.1)}})
    start = obs["proprio"][:3].copy()
    obs, *_ = env.step(np.array([0, 0, 0, -1], np.float32))
    np.testing.assert_allclose(obs["proprio"][:3], start, atol=2e-3)  # holds still
    assert obs["proprio"][3] == pytest.approx(0.09, abs=1e-3)  # fully open
    obs, *_ = env.step(np.array([1, -1, 1, -1], np.float32))
    np.testing.assert_allclose(obs["proprio"][:3] - start, [0.05, -0.05, 0.05], atol=5e-3)
    obs, *_ = env.step(np.array([0, 0, 0, 1], np.float32))
    assert obs["proprio"][3] == pytest.approx(0.01, abs=1e-3)  # closed on nothing


@pytest.mark.parametrize("yaw", [0.0, 0.6])
def test_gripper_lifts_and_carries_the_cube(yaw):
    env = gym.make(ENV_ID)
    start = {"cube": (0.45, 0.1, yaw), "effector": (0.45, 0.1, CUBE_HALF)}
    env.reset(seed=0, options={"start": start})
    for _ in range(3):
        obs, *_ = env.step(np.array([0, 0, 0, 1], np.float32))
    if yaw == 0.0:
        assert obs["proprio"][3] == pytest.approx(2 * CUBE_HALF, abs=1e-3)  # squeezing the cube
    for action in [(0, 0, 1, 1)] * 4 + [(1, -1, 0, 1)] * 4 + [(0, 0, 0, 1)] * 2:
        obs, *_ = env.step(np.array(action, np.float32))
    cube = env.unwrapped.cube_position
    assert cube[2] > 0.15
    np.testing.assert_allclose(cube, obs["proprio"][:3], atol=0.01)  # held between the pads


def test_success_test_and_goal_image():
    env = gym.make(ENV_ID, image_size=96)
    obs, info = env.reset(seed=0, options={"start": (0.4, 0.1), "goal": (0.4, 0.1)})
    assert obs["pixels"].shape == (96, 96, 3)
    assert info["success"] and info["distance"] == pytest.approx(0.0, abs=1e-3)
    # the goal image is the observation with the cube at the goal (yaw 0), the arm at home
    np.testing.assert_array_equal(obs["pixels"], info["goal_obs"]["pixels"])
    np.testing.assert_array_equal(obs["proprio"], info["goal_obs"]["proprio"])
    np.testing.assert_array_equal(
        info["goal_obs"]["pixels"], env.unwrapped.goal_observation()["pixels"]
    )
    _, info = env.reset(seed=0, options={"start": (0.4, 0.1), "goal": (0.5, 0.1)})
    assert not info["success"] and info["distance"] == pytest.approx(0.1, abs=1e-3)
    _, info = env.reset(seed=0, options={"start": (0.4, 0.1), "goal": (0.43, 0.1)})
    assert info["success"] and info["distance"] == pytest.approx(0.03, abs=1e-3)
    # a rotated cube at the goal position succeeds, but does not look like the goal image
    obs, info = env.reset(seed=0, options={"start": (0.4, 0.1, 0.5), "goal": (0.4, 0.1)})
    assert info["success"]
    assert not np.array_equal(obs["pixels"], info["goal_obs"]["pixels"])


def test_sampled_starts_and_goals_are_in_the_region_and_far_enough():
    env = gym.make(ENV_ID).unwrapped
    x_min, x_max, y_min, y_max = CUBE_REGION
    for seed in range(20):
        _, info = env.reset(seed=seed)
        for x, y in (env.cube_position[:2], info["goal"]):
            assert x_min <= x <= x_max and y_min <= y <= y_max
        assert info["distance"] >= env.min_goal_distance
        np.testing.assert_allclose(env.effector_position, HOME_EFFECTOR, atol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"success_threshold": 0.0}, "success_threshold=0.0: must be positive"),
        ({"min_goal_distance": 0.5}, "min_goal_distance must be .*, got 0.5"),
    ],
)
def test_bad_config_is_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make(ENV_ID, **kwargs)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"goal": (0.9, 0.0)}, "off the table"),
        ({"goal": (0.4, 0.0, 0.0)}, r"\(x, y\)"),
        ({"start": (0.4,)}, r"\(x, y\) or \(x, y, yaw\)"),
        ({"start": (0.4, np.nan)}, "finite"),
        ({"start": {"cube": (0.4, 0.0), "effector": (0.4, 0.0, -0.1)}}, "workspace"),
        ({"start": {"effector": (0.4, 0.0)}}, r"\(x, y, z\)"),
        ({"start": {"arm": (0.4, 0.0, 0.1)}}, "unknown keys"),
    ],
)
def test_bad_reset_options_are_rejected(options, message):
    env = gym.make(ENV_ID)
    with pytest.raises(ValueError, match=message):
        env.reset(seed=0, options=options)


@pytest.mark.parametrize("seed", [100000, 100001])
def test_expert_reaches_the_goal_on_benchmark_seeds(seed):
    env = gym.make(ENV_ID)
    obs, info = env.reset(seed=seed)
    expert = make_expert(ENV_ID, env)
    expert.reset()
    truncated = False
    while not truncated:
        action = expert(obs)
        assert action.dtype == np.float32 and env.action_space.contains(action)
        obs, _, terminated, truncated, info = env.step(action)
        assert not terminated
    assert info["success"]
    # it ends back home, so the last frame is close to the goal image
    np.testing.assert_allclose(obs["proprio"][:3], HOME_EFFECTOR, atol=0.01)


def _first_close(env, expert, obs):
    """Steps the expert until it first closes the gripper: (effector - cube) at that step."""
    for _ in range(60):
        action = expert(obs)
        if action[3] > 0:
            return env.unwrapped.effector_position - env.unwrapped.cube_position
        obs, *_ = env.step(action)
    raise AssertionError("the expert never closed the gripper")


def test_aim_noise_closes_the_first_grasp_off_centre_then_recentres_and_succeeds():
    env = gym.make(ENV_ID)
    obs, _ = env.reset(seed=100000)
    centred = make_expert(ENV_ID, env)
    centred.reset()
    assert np.linalg.norm(_first_close(env, centred, obs)[:2]) < 0.02  # align_tolerance
    obs, _ = env.reset(seed=100000)
    expert = make_expert(ENV_ID, env, rng=np.random.default_rng(3), aim_noise=0.03)
    expert.reset()
    aim = expert._aim.copy()
    assert np.linalg.norm(aim[:2]) > 0.03  # this draw aims well off the centre
    offset = _first_close(env, expert, obs)
    np.testing.assert_allclose(offset[:2], aim[:2], atol=0.02)  # it closes at its aim
    truncated, info = False, {}
    while not truncated:
        obs, _, _, truncated, info = env.step(expert(obs))
    assert not expert._aim.any()  # it closed on nothing and aimed at the centre again
    assert info["success"]


def test_expert_settings_are_checked():
    env = gym.make(ENV_ID)
    with pytest.raises(ValueError, match="takes no setting"):
        make_expert(ENV_ID, env, grip="tight")
    with pytest.raises(ValueError, match="aim_noise must be >= 0"):
        make_expert(ENV_ID, env, aim_noise=-0.01)


def test_blind_carry_takes_a_missed_grasp_to_the_goal_without_the_cube():
    env = gym.make(ENV_ID)
    obs, _ = env.reset(seed=100000)
    start = env.unwrapped.cube_position.copy()
    expert = make_expert(ENV_ID, env, rng=np.random.default_rng(3), aim_noise=0.03,
                         blind_carry=1.0)  # fmt: skip
    expert.reset()
    truncated = False
    while not truncated:
        obs, _, _, truncated, info = env.step(expert(obs))
    assert expert._blind_grip is not None
    effector, goal = env.unwrapped.effector_position, env.unwrapped.goal_position
    assert np.linalg.norm(effector[:2] - goal[:2]) < 0.03  # it went to the goal ...
    assert np.linalg.norm(env.unwrapped.cube_position[:2] - start[:2]) < 0.02  # ... alone
    assert not info["success"]
    with pytest.raises(ValueError, match="blind_carry must be in"):
        make_expert(ENV_ID, env, blind_carry=1.5)
