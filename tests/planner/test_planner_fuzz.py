"""Fuzz of the planners and the controller: any parameters, any energy, any observation is
either refused with an error naming the argument (``PlannerArgumentError``, ``EnergyError``,
``ObservationError``) or planned with finite actions inside the bounds.

``test_regression_*`` are inputs the code before issue 16 accepted silently (NaN proprio gave
an unplanned action, ``horizon=2.5`` failed deep in torch) or refused with a raw autograd
error (a non-differentiable energy given to a gradient planner)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from planner import MPCController, make_planner
from planner.errors import EnergyError, ObservationError, PlannerArgumentError

PLANNERS = ["cem", "icem", "mppi", "gd", "adam", "gradcem"]
FUZZ = settings(max_examples=40, deadline=None)
INTEGER_PARAMS = {
    "cem": ("n_samples", "n_elites", "n_iters"),
    "icem": ("n_samples", "n_elites", "n_iters"),
    "mppi": ("n_samples", "n_iters"),
    "gd": ("n_restarts", "n_iters"),
    "adam": ("n_restarts", "n_iters"),
    "gradcem": ("n_samples", "n_elites", "n_iters", "n_grad_elites", "n_grad_steps"),
}
SMALL = {"n_samples": 8, "n_elites": 2, "n_iters": 2, "n_restarts": 2, "n_grad_elites": 1,
         "n_grad_steps": 1}  # fmt: skip
FLOAT_PARAMS = {
    "cem": ("alpha",),
    "icem": ("alpha", "beta", "decay", "keep_elites"),
    "mppi": ("temperature", "smoothing", "noise_std"),
    "gd": ("lr", "noise_std"),
    "adam": ("lr", "noise_std"),
    "gradcem": ("alpha", "lr"),
}


class PointModel:
    """A point whose position is its proprioception (2,) and moves by the action."""

    device, proprio_dim, frameskip = torch.device("cpu"), 2, 1

    def encode(self, pixels, proprio=None):
        """(B, T, H, W, 3), (B, T, 2) -> (B, T, 1, 2)."""
        return proprio[:, :, None].float()

    def rollout(self, z_hist, actions, past_actions=None):
        """(B, T, 1, 2), (B, N, H, 2) -> (B, N, H, 1, 2)."""
        return z_hist[:, -1, None, None] + actions.cumsum(dim=2)[..., None, :]


def observation(proprio) -> dict:
    return {"pixels": np.zeros((4, 4, 3), np.uint8), "proprio": proprio}


any_number = st.one_of(
    st.integers(-3, 20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)


def quadratic(target: torch.Tensor):
    """Energy (B, N, H, A) -> (B, N): squared distance of every action to ``target`` (A,)."""
    return lambda actions: (actions - target).square().sum(dim=(2, 3))


def small(name: str, **overrides):
    params = {"horizon": 3, "action_dim": 2, **{k: SMALL[k] for k in INTEGER_PARAMS[name]}}
    return make_planner(name, **{**params, **overrides})


def assert_planned(planner, energy, batch_size=2, low=-1.0, high=1.0):
    result = planner.plan(energy, batch_size=batch_size, generator=torch.Generator().manual_seed(0))
    assert result.actions.shape == (batch_size, planner.horizon, planner.action_dim)
    assert torch.isfinite(result.actions).all()
    assert (result.actions >= low).all() and (result.actions <= high).all()
    return result


@pytest.mark.parametrize("name", PLANNERS)
@FUZZ
@given(data=st.data())
def test_any_parameter_values_are_refused_by_name_or_plan_within_bounds(name, data):
    key = data.draw(st.sampled_from(("horizon", "action_dim", *INTEGER_PARAMS[name],
                                     *FLOAT_PARAMS[name])))  # fmt: skip
    value = data.draw(any_number)
    params = {"horizon": 3, "action_dim": 2, **{k: SMALL[k] for k in INTEGER_PARAMS[name]}}
    params[key] = value
    try:
        planner = make_planner(name, **params)
    except ValueError as err:
        assert key in str(err), str(err)
        return
    assert_planned(planner, quadratic(torch.full((planner.action_dim,), 0.5)))


@pytest.mark.parametrize("name", PLANNERS)
@pytest.mark.parametrize("value", [2.5, 2.0, "3", True, None])
def test_regression_integer_parameters_must_be_integers(name, value):
    with pytest.raises(
        PlannerArgumentError, match=rf"horizon must be an integer >= 1, got {value!r}"
    ):
        small(name, horizon=value)
    key = INTEGER_PARAMS[name][0]
    with pytest.raises(PlannerArgumentError, match=rf"{key} must be an integer >= 1"):
        small(name, **{key: value})


cost_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.floats(-10, 10), st.just(float("nan"))
)


@pytest.mark.parametrize("name", PLANNERS)
@FUZZ
@given(data=st.data())
def test_any_energy_output_is_refused_or_planned_within_bounds(name, data):
    """Energies whose costs are arbitrary (NaN, inf, huge) on some candidates, or whose shape
    is wrong: a named EnergyError, or finite actions in bounds."""
    planner = small(name)
    wrong_shape = data.draw(st.booleans())
    pool = torch.tensor(data.draw(st.lists(cost_values, min_size=1, max_size=16)))

    def energy(actions):
        B, N = actions.shape[:2]
        base = quadratic(torch.full((2,), 0.5))(actions)  # differentiable
        noise = pool[torch.arange(B * N) % len(pool)].view(B, N)
        cost = base + noise
        return cost[:, :-1] if wrong_shape else cost

    if wrong_shape:
        with pytest.raises(EnergyError, match=r"energy must return a cost of shape \(B, N\)"):
            planner.plan(energy, batch_size=2)
        return
    assert_planned(planner, energy)


@pytest.mark.parametrize("name", ["gd", "adam", "gradcem"])
@pytest.mark.parametrize(
    "energy",
    [
        lambda a: quadratic(torch.zeros(2))(a).detach(),
        lambda a: torch.from_numpy(a.detach().numpy().sum(axis=(2, 3))),
        lambda a: torch.zeros(a.shape[:2], requires_grad=True),  # no path from the actions
    ],
    ids=["detached", "numpy", "constant"],
)
def test_regression_non_differentiable_energy_is_named_for_gradient_planners(name, energy):
    with pytest.raises(EnergyError, match="need an energy differentiable with respect to"):
        small(name).plan(energy, batch_size=1)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_regression_non_finite_proprio_is_refused_by_the_controller(bad):
    mpc = MPCController(PointModel(), small("cem"))
    mpc.reset(observation(np.array([1.0, 0.0], np.float32)))
    obs = observation(np.array([bad, 0.0], np.float32))
    with pytest.raises(ObservationError, match=r"proprio must be finite, got NaN or inf"):
        mpc.act(obs)
    with pytest.raises(ObservationError, match=r"proprio must be finite"):
        mpc.reset(obs)  # the goal too


proprio_values = st.one_of(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=0, max_size=3),
    st.lists(st.floats(-5, 5, width=32), min_size=2, max_size=2),
    st.text(max_size=2),
    st.none(),
)


@FUZZ
@given(proprio=proprio_values)
def test_any_proprio_is_refused_by_name_or_planned_within_bounds(proprio):
    generator = torch.Generator().manual_seed(0)
    mpc = MPCController(PointModel(), small("cem", n_samples=16), generator=generator)
    mpc.reset(observation(np.array([1.0, 0.0], np.float32)))
    try:
        action = mpc.act(observation(proprio))
    except ObservationError as err:
        assert "proprio" in str(err)
        return
    assert action.shape == (2,) and np.isfinite(action).all() and np.abs(action).max() <= 1


@pytest.mark.parametrize(
    "pixels",
    [np.zeros((4, 4, 3), np.float32), np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8)],
)
def test_pixels_of_the_wrong_dtype_or_shape_are_observation_errors(pixels):
    mpc = MPCController(PointModel(), small("cem"))
    with pytest.raises(ObservationError, match="pixels must be uint8 of shape"):
        mpc.reset({"pixels": pixels, "proprio": np.zeros(2, np.float32)})
