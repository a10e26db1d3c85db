"""The environment contract, checked over every registered id.

Gymnasium's ``check_env``, seeded reproducibility, goal images, observation
bounds, rejected inputs and the render rate; task-specific behaviour is tested
in each task's own file.
"""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import load_env_creator
from gymnasium.utils.env_checker import check_env

import envs
from envs.experts import make_expert

pytestmark = pytest.mark.parametrize("env_id", envs.ENV_IDS)


def test_check_env_passes(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=False)
    env.close()


def _rollout(env_id: str, seed: int, steps: int = 10, peek_goal: bool = False):
    """Frames (T+1, S, S, 3), proprio (T+1, P) and the reset info of a noisy-expert episode."""
    env = gym.make(env_id)
    obs, info = env.reset(seed=seed)
    expert = make_expert(env_id, env, noise=0.2, rng=np.random.default_rng(seed))
    frames, proprio = [obs["pixels"]], [obs["proprio"]]
    for _ in range(steps):
        if peek_goal:  # rendering the goal mid-episode must not disturb the episode
            env.unwrapped.goal_observation()
        obs, *_ = env.step(expert(obs))
        frames.append(obs["pixels"])
        proprio.append(obs["proprio"])
    env.close()
    return np.stack(frames), np.stack(proprio), info


def test_two_instances_same_seed_are_identical(env_id):
    f1, p1, i1 = _rollout(env_id, 7)
    f2, p2, i2 = _rollout(env_id, 7, peek_goal=True)
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(i1["goal_obs"]["pixels"], i2["goal_obs"]["pixels"])
    np.testing.assert_array_equal(i1["goal"], i2["goal"])
    f3, _, i3 = _rollout(env_id, 8, steps=0)
    assert not np.array_equal(f1[0], f3[0])
    assert not np.array_equal(i1["goal_obs"]["pixels"], i3["goal_obs"]["pixels"])


def test_reset_with_the_same_seed_repeats_the_episode_in_one_instance(env_id):
    env = gym.make(env_id)
    actions = np.random.default_rng(0).uniform(-1, 1, (6, *env.action_space.shape))
    episodes = []
    for _ in range(2):  # the second reset starts from the first episode's end state
        obs, info = env.reset(seed=11)
        frames = [obs["pixels"], info["goal_obs"]["pixels"]]
        proprio, rewards = [obs["proprio"]], []
        for action in actions:
            obs, reward, *_ = env.step(action.astype(np.float32))
            frames.append(obs["pixels"])
            proprio.append(obs["proprio"])
            rewards.append(reward)
        episodes.append((np.stack(frames), np.stack(proprio), rewards))
    np.testing.assert_array_equal(episodes[0][0], episodes[1][0])
    np.testing.assert_array_equal(episodes[0][1], episodes[1][1])
    assert episodes[0][2] == episodes[1][2]


def test_goal_image_is_the_observation_at_the_goal_state(env_id):
    env = gym.make(env_id).unwrapped
    obs, info = env.reset(seed=3)
    for at_goal in (env.goal_observation(), env.observation_at(*env.goal_state())):
        np.testing.assert_array_equal(info["goal_obs"]["pixels"], at_goal["pixels"])
        np.testing.assert_array_equal(info["goal_obs"]["proprio"], at_goal["proprio"])
    # rendering the goal left the episode's state alone
    np.testing.assert_array_equal(env.render(), obs["pixels"])


def test_observations_stay_inside_the_observation_space(env_id):
    env = gym.make(env_id)
    rng = np.random.default_rng(0)
    for seed in (0, 1):
        obs, info = env.reset(seed=seed)
        assert env.observation_space.contains(obs)
        assert env.observation_space.contains(info["goal_obs"])
        for _ in range(15):  # actions beyond the bounds are clipped, NaN counts as 0
            action = rng.uniform(-1.5, 1.5, env.action_space.shape).astype(np.float32)
            action[0] = np.nan if rng.random() < 0.2 else action[0]
            obs, reward, *_ = env.step(action)
            assert env.observation_space.contains(obs) and np.isfinite(reward)


@pytest.mark.parametrize("surplus", [-1, 1])
def test_bad_action_shape_is_rejected(env_id, surplus):
    env = gym.make(env_id)
    env.reset(seed=0)
    (action_dim,) = env.action_space.shape
    received = action_dim + surplus
    with pytest.raises(ValueError, match=rf"shape \({action_dim},\), got \({received},\)"):
        env.step(np.zeros(received, dtype=np.float32))


def test_unknown_reset_options_are_rejected(env_id):
    env = gym.make(env_id)
    received = r"unknown reset options \['target'\] among the keys received \['goal', 'target'\]"
    with pytest.raises(ValueError, match=received):
        env.reset(seed=0, options={"goal": None, "target": 1})


def test_render_fps_is_the_control_rate(env_id):
    env = gym.make(env_id).unwrapped
    assert env.control_dt == env.frame_skip * env.model.opt.timestep
    assert env.metadata["render_fps"] == 1.0 / env.control_dt
    # per instance: a slower twin leaves this one's rate alone
    slower = gym.make(env_id, control_dt=2 * env.control_dt).unwrapped
    assert slower.metadata["render_fps"] == pytest.approx(env.metadata["render_fps"] / 2)
    assert env.metadata["render_fps"] == 1.0 / env.control_dt


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image_size": 8}, "image_size must be an integer in .*, got 8"),
        ({"image_size": 300}, "image_size must be an integer in .*, got 300"),
        ({"render_mode": "human"}, "render_mode must be .*, got 'human'"),
        ({"render_mode": "depth_array"}, "render_mode must be .*, got 'depth_array'"),
        ({"control_dt": 0.0}, "control_dt=0.0: must be positive"),
        ({"control_dt": float("nan")}, "control_dt=nan: must be positive"),
    ],
)
def test_bad_common_config_is_rejected(env_id, kwargs, message):
    # the class itself: gym.make would wrap a "human" env in its HumanRendering
    make_env = load_env_creator(gym.spec(env_id).entry_point)
    with pytest.raises(ValueError, match=message):
        make_env(**kwargs)
