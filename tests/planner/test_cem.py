"""CEM on problems with known answers."""

import time

import pytest
import torch

from planner import CEM, PlanResult, make_planner

HORIZON, ACTION_DIM = 5, 2


def quadratic(target: torch.Tensor):
    """Energy sum_t ||a_t - target||^2 for targets (B, A); its minimiser is the target."""

    def energy(actions: torch.Tensor) -> torch.Tensor:
        return (actions - target[:, None, None]).square().sum(dim=(2, 3))  # (B, N)

    return energy


def test_quadratic_reaches_each_problems_target():
    target = torch.tensor([[0.3, -0.2], [0.9, 0.1], [-0.5, -0.7]])
    planner = make_planner("cem", horizon=HORIZON, action_dim=ACTION_DIM)
    result = planner.plan(
        quadratic(target), batch_size=3, generator=torch.Generator().manual_seed(0)
    )
    assert isinstance(result, PlanResult)
    assert result.actions.shape == (3, HORIZON, ACTION_DIM)
    assert result.actions.dtype == torch.float32
    assert result.cost.shape == (3,)
    assert (result.actions - target[:, None]).abs().max() < 0.05
    assert result.cost.max() < 1e-3
    assert result.trace["n_iters"] == planner.n_iters
    assert result.trace["best_cost"].shape == (planner.n_iters, 3)
    assert len(result.trace["iteration_time_s"]) == planner.n_iters
    assert 0 < result.trace["energy_time_s"] <= result.trace["total_time_s"]
    assert not result.trace["stopped_early"]


def test_best_cost_trace_never_increases_and_matches_result():
    target = torch.tensor([[0.4, 0.4]])
    planner = CEM(horizon=HORIZON, action_dim=ACTION_DIM, n_samples=64, n_elites=8, n_iters=10)
    result = planner.plan(
        quadratic(target), batch_size=1, generator=torch.Generator().manual_seed(1)
    )
    best = result.trace["best_cost"]
    assert (best[1:] <= best[:-1]).all()
    assert torch.equal(best[-1], result.cost)
    assert torch.allclose(quadratic(target)(result.actions[:, None])[:, 0], result.cost)


def test_target_outside_per_dimension_bounds_gives_clamped_target():
    low, high = torch.tensor([-1.0, 0.0]), torch.tensor([0.5, 2.0])
    target = torch.tensor([[1.0, -1.0], [-3.0, 3.0], [0.2, 1.0]])
    planner = make_planner("cem", horizon=HORIZON, action_dim=ACTION_DIM, low=low, high=high)
    result = planner.plan(
        quadratic(target), batch_size=3, generator=torch.Generator().manual_seed(0)
    )
    clamped = torch.clamp(target, min=low, max=high)
    assert (result.actions - clamped[:, None]).abs().max() < 1e-2
    assert (result.actions >= low).all() and (result.actions <= high).all()


def final_state_energy(start: torch.Tensor, goal: torch.Tensor, action_weight: float = 0.0):
    """Linear dynamics x_{t+1} = x_t + a_t from start (B, A); cost ||x_H - goal||^2 plus
    action_weight * sum_t ||a_t||^2."""

    def energy(actions: torch.Tensor) -> torch.Tensor:
        final = start[:, None] + actions.sum(dim=2)  # (B, N, A)
        effort = actions.square().sum(dim=(2, 3))  # (B, N)
        return (final - goal[:, None]).square().sum(dim=2) + action_weight * effort

    return energy


def test_linear_dynamics_reaches_the_optimal_final_state():
    start = torch.tensor([[0.0, 0.0], [1.0, -1.0]])
    # Problem 0 can reach its goal; problem 1's first coordinate is 8 away but the actions
    # move it by at most H * high = 5, so its optimal final state stops at 1 + 5 = 6.
    goal = torch.tensor([[2.0, -3.0], [9.0, 0.5]])
    optimal_final = torch.tensor([[2.0, -3.0], [6.0, 0.5]])
    planner = make_planner("cem", horizon=HORIZON, action_dim=ACTION_DIM, n_iters=40)
    result = planner.plan(
        final_state_energy(start, goal), batch_size=2, generator=torch.Generator().manual_seed(0)
    )
    final = start + result.actions.sum(dim=1)
    assert (final - optimal_final).abs().max() < 0.05


def test_linear_dynamics_with_action_cost_finds_the_unique_optimum():
    # min ||x0 + sum_t a_t - g||^2 + w sum_t ||a_t||^2 has a_t = (g - x0) / (H + w) for all t.
    start = torch.tensor([[0.0, 0.0], [0.5, -0.5]])
    goal = torch.tensor([[1.2, -0.6], [-1.0, 1.0]])
    weight = 1.0
    optimal = (goal - start) / (HORIZON + weight)  # (B, A)
    planner = make_planner("cem", horizon=HORIZON, action_dim=ACTION_DIM, n_iters=40)
    result = planner.plan(
        final_state_energy(start, goal, weight),
        batch_size=2,
        generator=torch.Generator().manual_seed(0),
    )
    assert (result.actions - optimal[:, None]).abs().max() < 0.03


def test_same_seed_same_result_different_seeds_both_good():
    target = torch.tensor([[0.3, -0.2], [-0.6, 0.8]])
    planner = make_planner(
        "cem", horizon=HORIZON, action_dim=ACTION_DIM, n_samples=100, n_elites=10, n_iters=15
    )

    def plan(seed: int) -> PlanResult:
        generator = torch.Generator().manual_seed(seed)
        return planner.plan(quadratic(target), batch_size=2, generator=generator)

    first, again, other = plan(7), plan(7), plan(8)
    assert torch.equal(first.actions, again.actions)
    assert torch.equal(first.cost, again.cost)
    assert not torch.equal(first.actions, other.actions)
    for result in (first, other):
        assert (result.actions - target[:, None]).abs().max() < 0.05


def test_global_seed_makes_planning_without_generator_reproducible():
    target = torch.tensor([[0.3, -0.2]])
    planner = CEM(horizon=HORIZON, action_dim=ACTION_DIM, n_samples=32, n_elites=4, n_iters=3)
    torch.manual_seed(3)
    first = planner.plan(quadratic(target), batch_size=1)
    torch.manual_seed(3)
    again = planner.plan(quadratic(target), batch_size=1)
    assert torch.equal(first.actions, again.actions)


def test_warm_start_at_the_optimum_with_tiny_std_is_optimal_from_the_first_iteration():
    target = torch.tensor([[0.3, -0.2], [0.1, 0.7]])
    init = target[:, None].expand(2, HORIZON, ACTION_DIM).clone()
    planner = make_planner(
        "cem", horizon=HORIZON, action_dim=ACTION_DIM, init_std=1e-4, n_samples=16, n_elites=4
    )
    result = planner.plan(quadratic(target), batch_size=2, init=init)
    assert result.trace["best_cost"][0].max() < 1e-6
    assert (result.actions - init).abs().max() < 1e-3


def test_warm_start_is_clamped_into_the_bounds():
    planner = CEM(horizon=HORIZON, action_dim=ACTION_DIM, n_samples=1, n_elites=1, n_iters=1)
    init = torch.full((1, HORIZON, ACTION_DIM), 5.0)
    result = planner.plan(lambda actions: actions.sum(dim=(2, 3)), batch_size=1, init=init)
    assert torch.equal(result.actions, torch.ones(1, HORIZON, ACTION_DIM))


def test_tiny_time_budget_stops_early_with_a_valid_result():
    target = torch.tensor([[0.3, -0.2]])

    def slow(actions: torch.Tensor) -> torch.Tensor:
        time.sleep(0.005)
        return quadratic(target)(actions)

    planner = make_planner("cem", horizon=HORIZON, action_dim=ACTION_DIM, n_iters=50)
    result = planner.plan(slow, batch_size=1, time_budget_s=0.01)
    assert 1 <= result.trace["n_iters"] < 50
    assert result.trace["stopped_early"]
    assert result.trace["best_cost"].shape == (result.trace["n_iters"], 1)
    assert torch.isfinite(result.actions).all() and torch.isfinite(result.cost).all()
    assert result.actions.abs().max() <= 1.0


def test_a_differentiable_energy_builds_no_graph():
    weight = torch.ones(ACTION_DIM, requires_grad=True)
    planner = CEM(horizon=HORIZON, action_dim=ACTION_DIM, n_samples=16, n_elites=4, n_iters=2)
    result = planner.plan(lambda actions: (weight * actions).sum(dim=(2, 3)), batch_size=1)
    assert not result.actions.requires_grad and not result.cost.requires_grad


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_plans_on_the_device_of_the_warm_start():
    target = torch.tensor([[0.3, -0.2]], device="cuda")
    init = torch.zeros(1, HORIZON, ACTION_DIM, device="cuda")
    planner = make_planner("cem", horizon=HORIZON, action_dim=ACTION_DIM, low=torch.tensor([-1, 0]))
    generator = torch.Generator(device="cuda").manual_seed(0)
    result = planner.plan(quadratic(target), batch_size=1, init=init, generator=generator)
    assert result.actions.device.type == "cuda" and result.cost.device.type == "cuda"
    clamped = torch.tensor([[0.3, 0.0]], device="cuda")
    assert (result.actions - clamped[:, None]).abs().max() < 0.05
