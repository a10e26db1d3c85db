"""Fuzz of the environments' reset options and constructor arguments: every value is either
refused with a ``ValueError`` naming the option (or argument), or gives a valid observation.

``test_regression_*`` are the inputs the code before issue 16 accepted silently."""

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import envs  # noqa: F401  (registers the environments)
from envs.errors import EnvArgumentError

ENV_IDS = sorted(i for i in gym.registry if i.startswith("wmplan/"))
BALL_ENVS = ("wmplan/PointMaze-v0", "wmplan/Wall-v0")

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-2.0, 2.0),  # mostly inside the arenas
    st.integers(-(10**6), 10**6),
)
option_values = st.one_of(
    st.lists(numbers, min_size=0, max_size=4).map(tuple),
    st.dictionaries(st.sampled_from(["cube", "effector", "x"]), st.lists(numbers, max_size=4)),
    st.text(max_size=3),
    st.none(),
)
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def made():
    environments = {env_id: gym.make(env_id, image_size=16).unwrapped for env_id in ENV_IDS}
    yield environments
    for env in environments.values():
        env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
@FUZZ
@given(key=st.sampled_from(["start", "goal"]), value=option_values)
def test_reset_options_are_refused_by_name_or_give_a_valid_observation(made, env_id, key, value):
    env = made[env_id]
    try:
        obs, info = env.reset(seed=0, options={key: value})
    except ValueError as err:
        assert f"options[{key!r}]" in str(err) or key in str(err), str(err)
        return
    assert env.observation_space.contains(obs), (value, obs["proprio"])
    assert np.isfinite(info["distance"])
    if env_id in BALL_ENVS and key == "start":  # the ball is where it was asked to be
        np.testing.assert_allclose(obs["proprio"][:2], np.asarray(value, float), atol=1e-6)


@pytest.mark.parametrize(
    ("env_id", "position"),
    [
        ("wmplan/PointMaze-v0", (100.0, 100.0)),
        ("wmplan/Wall-v0", (100.0, 100.0)),
        ("wmplan/Wall-v0", (2.0, 0.0)),
        ("wmplan/PointMaze-v0", (1e300, -1e300)),
    ],
)
@pytest.mark.parametrize("key", ["start", "goal"])
def test_regression_ball_positions_outside_the_arena_are_refused(
    made, env_id, position, key, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # MuJoCo wrote MUJOCO_LOG.TXT into the working directory
    with pytest.raises(EnvArgumentError, match=rf"options\['{key}'\] = .* is outside the arena"):
        made[env_id].reset(seed=0, options={key: position})
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("image_size", [64.5, "64", True, 8, 1000])
def test_regression_image_size_must_be_an_integer_in_range(env_id, image_size):
    message = r"image_size must be an integer in \[16, 224\], got"
    with pytest.raises(EnvArgumentError, match=message):
        gym.make(env_id, image_size=image_size)


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("control_dt", [0.0, -1.0, float("nan"), float("inf"), "0.5", None])
def test_control_period_must_be_a_positive_finite_number(env_id, control_dt):
    with pytest.raises(EnvArgumentError, match="control_dt=.*must be positive finite numbers"):
        gym.make(env_id, control_dt=control_dt)


def test_numpy_integer_image_size_is_an_integer():
    env = gym.make("wmplan/PointMaze-v0", image_size=np.int64(16))
    obs, _ = env.reset(seed=0)
    assert obs["pixels"].shape == (16, 16, 3)
