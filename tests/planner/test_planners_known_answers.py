"""iCEM, MPPI, gradient descent, Adam and CEM-GD on problems with known answers.

Every test runs for every planner in `SETTINGS`, with small settings that keep the folder fast.
The tolerances were set with a margin over the worst error seen over seeds 0 to 4.
"""

import pytest
import torch

from planner import ICEM, MPPI, PLANNERS, Adam, GradCEM, GradientDescent, PlanResult, make_planner

HORIZON, ACTION_DIM = 5, 2

SETTINGS = {
    "icem": dict(n_samples=300, n_elites=30, n_iters=25, decay=1.05),
    "mppi": dict(n_samples=100, n_iters=30, noise_std=0.1, temperature=0.01),
    "gd": dict(n_restarts=4, n_iters=60, lr=0.05),
    "adam": dict(n_restarts=4, n_iters=100, lr=0.05),
    "gradcem": dict(n_samples=64, n_elites=8, n_iters=10, lr=0.05),
}
"""Per planner: settings for the known-answer tests."""

TOLERANCE = {"icem": 0.06, "mppi": 0.05, "gd": 0.01, "adam": 0.01, "gradcem": 0.02}
"""Per planner: largest error allowed on an action or final-state entry."""

SMALL = {
    "icem": dict(n_samples=32, n_elites=4, n_iters=3),
    "mppi": dict(n_samples=32, n_iters=3),
    "gd": dict(n_restarts=4, n_iters=3),
    "adam": dict(n_restarts=4, n_iters=3),
    "gradcem": dict(n_samples=32, n_elites=4, n_grad_elites=2, n_grad_steps=2, n_iters=3),
}
"""Per planner: a few cheap iterations, for the tests that check contracts, not optima."""

NAMES = list(SETTINGS)


def planner_for(name: str, settings: dict, **kwargs):
    return make_planner(name, horizon=HORIZON, action_dim=ACTION_DIM, **settings[name], **kwargs)


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def quadratic(target: torch.Tensor):
    """Energy sum_t ||a_t - target||^2 for targets (B, A); its minimiser is the target."""

    def energy(actions: torch.Tensor) -> torch.Tensor:
        return (actions - target[:, None, None]).square().sum(dim=(2, 3))  # (B, N)

    return energy


def final_state_energy(start: torch.Tensor, goal: torch.Tensor, action_weight: float = 0.0):
    """Linear dynamics x_{t+1} = x_t + a_t from start (B, A); cost ||x_H - goal||^2 plus
    action_weight * sum_t ||a_t||^2."""

    def energy(actions: torch.Tensor) -> torch.Tensor:
        final = start[:, None] + actions.sum(dim=2)  # (B, N, A)
        effort = actions.square().sum(dim=(2, 3))  # (B, N)
        return (final - goal[:, None]).square().sum(dim=2) + action_weight * effort

    return energy


def test_every_new_planner_is_registered():
    assert set(NAMES) <= set(PLANNERS)


@pytest.mark.parametrize("name", NAMES)
def test_quadratic_reaches_each_problems_target(name):
    target = torch.tensor([[0.3, -0.2], [0.9, 0.1], [-0.5, -0.7]])
    planner = planner_for(name, SETTINGS)
    result = planner.plan(quadratic(target), batch_size=3, generator=seeded())
    assert isinstance(result, PlanResult)
    assert result.actions.shape == (3, HORIZON, ACTION_DIM)
    assert result.actions.dtype == torch.float32 and result.cost.shape == (3,)
    assert (result.actions - target[:, None]).abs().max() < TOLERANCE[name]
    assert torch.allclose(quadratic(target)(result.actions[:, None])[:, 0], result.cost)
    best = result.trace["best_cost"]
    assert best.shape == (planner.n_iters, 3)
    assert (best[1:] <= best[:-1]).all() and torch.equal(best[-1], result.cost)
    assert not result.actions.requires_grad and not result.cost.requires_grad


@pytest.mark.parametrize("name", NAMES)
def test_target_outside_per_dimension_bounds_gives_clamped_target(name):
    low, high = torch.tensor([-1.0, 0.0]), torch.tensor([0.5, 2.0])
    target = torch.tensor([[1.0, -1.0], [-3.0, 3.0], [0.2, 1.0]])
    planner = planner_for(name, SETTINGS, low=low, high=high)
    result = planner.plan(quadratic(target), batch_size=3, generator=seeded())
    clamped = torch.clamp(target, min=low, max=high)
    assert (result.actions - clamped[:, None]).abs().max() < TOLERANCE[name]
    assert (result.actions >= low).all() and (result.actions <= high).all()


@pytest.mark.parametrize("name", NAMES)
def test_linear_dynamics_reaches_the_optimal_final_state(name):
    start = torch.tensor([[0.0, 0.0], [1.0, -1.0]])
    # Problem 0 can reach its goal; problem 1's first coordinate is 8 away but the actions
    # move it by at most H * high = 5, so its optimal final state stops at 1 + 5 = 6.
    goal = torch.tensor([[2.0, -3.0], [9.0, 0.5]])
    optimal_final = torch.tensor([[2.0, -3.0], [6.0, 0.5]])
    planner = planner_for(name, SETTINGS)
    result = planner.plan(final_state_energy(start, goal), batch_size=2, generator=seeded())
    final = start + result.actions.sum(dim=1)
    assert (final - optimal_final).abs().max() < TOLERANCE[name]


@pytest.mark.parametrize("name", NAMES)
def test_linear_dynamics_with_action_cost_finds_the_unique_optimum(name):
    # min ||x0 + sum_t a_t - g||^2 + w sum_t ||a_t||^2 has a_t = (g - x0) / (H + w) for all t.
    start = torch.tensor([[0.0, 0.0], [0.5, -0.5]])
    goal = torch.tensor([[1.2, -0.6], [-1.0, 1.0]])
    weight = 1.0
    optimal = (goal - start) / (HORIZON + weight)  # (B, A)
    planner = planner_for(name, SETTINGS)
    energy = final_state_energy(start, goal, weight)
    result = planner.plan(energy, batch_size=2, generator=seeded())
    assert (result.actions - optimal[:, None]).abs().max() < TOLERANCE[name]


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_result_different_seed_different_result(name):
    target = torch.tensor([[0.3, -0.2], [-0.6, 0.8]])
    planner = planner_for(name, SMALL)
    first, again, other = (
        planner.plan(quadratic(target), batch_size=2, generator=seeded(seed)) for seed in (7, 7, 8)
    )
    assert torch.equal(first.actions, again.actions) and torch.equal(first.cost, again.cost)
    assert not torch.equal(first.actions, other.actions)


@pytest.mark.parametrize("name", NAMES)
def test_nan_energies_never_reach_the_result(name):
    # Problem 0: NaN wherever the first action's first entry exceeds 0.6; problem 1: all NaN.
    target = torch.tensor([[0.5, -0.5], [0.2, 0.3]])
    low, high = torch.tensor([0.1, -1.0]), torch.tensor([1.0, 0.5])

    def energy(actions: torch.Tensor) -> torch.Tensor:
        cost = quadratic(target)(actions)  # (B, N)
        cost = torch.where(actions[..., 0, 0] > 0.6, float("nan"), cost)
        return torch.cat([cost[:1], torch.full_like(cost[1:], float("nan"))])

    planner = planner_for(name, SMALL, low=low, high=high)
    result = planner.plan(energy, batch_size=2, generator=seeded())
    assert torch.isfinite(result.actions).all()
    assert (result.actions >= low).all() and (result.actions <= high).all()
    assert torch.isfinite(result.cost[0]) and result.actions[0, 0, 0] <= 0.6
    assert torch.isinf(result.cost[1]) and result.cost[1] > 0


@pytest.mark.parametrize("name", NAMES)
def test_every_candidate_and_the_result_stay_within_the_bounds(name):
    # The energy falls without limit along (1, -1), so every optimiser pushes into the bounds.
    low, high = torch.tensor([-0.5, -2.0]), torch.tensor([0.25, 1.0])
    seen = []

    def energy(actions: torch.Tensor) -> torch.Tensor:
        seen.append(actions.detach().clone())
        return (actions[..., 1] - actions[..., 0]).sum(dim=2) * 10  # (B, N)

    planner = planner_for(name, SMALL, low=low, high=high)
    result = planner.plan(energy, batch_size=2, generator=seeded())
    for actions in [*seen, result.actions]:
        assert (actions >= low).all() and (actions <= high).all()
    assert result.actions.max() > 0  # moved towards (high, low) from the middle


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [lambda a: a.sum(dim=(1, 2, 3)), lambda a: a.sum(dim=3)])
def test_wrong_energy_shape_raises(name, bad):
    with pytest.raises(ValueError, match=r"energy must return a cost of shape \(B, N\) = \(2, "):
        planner_for(name, SMALL).plan(bad, batch_size=2)


@pytest.mark.parametrize(
    ("name", "cls", "needs_grad"),
    [
        ("icem", ICEM, False),
        ("mppi", MPPI, False),
        ("gd", GradientDescent, True),
        ("adam", Adam, True),
        ("gradcem", GradCEM, True),
    ],
)
def test_make_planner_builds_each_by_name(name, cls, needs_grad):
    planner = make_planner(name, horizon=HORIZON, action_dim=ACTION_DIM)
    assert type(planner) is cls and PLANNERS[name] is cls
    assert planner.needs_grad is needs_grad
    assert planner.horizon == HORIZON and planner.action_dim == ACTION_DIM


@pytest.mark.parametrize("name", ["gd", "adam", "gradcem"])
def test_gradients_are_taken_with_respect_to_the_actions_only(name):
    weight = torch.ones(ACTION_DIM, requires_grad=True)
    target = torch.tensor([[0.3, -0.2]])

    def energy(actions: torch.Tensor) -> torch.Tensor:
        return (weight * (actions - target[:, None, None])).square().sum(dim=(2, 3))

    result = planner_for(name, SMALL).plan(energy, batch_size=1, generator=seeded())
    assert weight.grad is None
    assert not result.actions.requires_grad and not result.cost.requires_grad


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("icem", dict(beta=-1.0), "beta"),
        ("icem", dict(decay=0.5), "decay"),
        ("icem", dict(keep_elites=1.5), "keep_elites"),
        ("icem", dict(n_samples=10, n_elites=20), "n_elites"),
        ("mppi", dict(n_samples=0), "n_samples"),
        ("mppi", dict(n_iters=0), "n_iters"),
        ("mppi", dict(noise_std=0.0), "noise_std"),
        ("mppi", dict(temperature=0.0), "temperature"),
        ("mppi", dict(smoothing=1.0), "smoothing"),
        ("gd", dict(n_restarts=0), "n_restarts"),
        ("gd", dict(n_iters=0), "n_iters"),
        ("gd", dict(lr=0.0), "lr"),
        ("adam", dict(noise_std=-0.1), "noise_std"),
        ("gradcem", dict(n_elites=4, n_grad_elites=5), r"n_grad_elites \(5\) must be"),
        ("gradcem", dict(n_grad_steps=0), "n_grad_steps"),
        ("gradcem", dict(lr=-1.0), "lr"),
    ],
)
def test_bad_parameters_name_the_field(name, params, field):
    with pytest.raises(ValueError, match=field):
        make_planner(name, horizon=HORIZON, action_dim=ACTION_DIM, **params)
