"""The checks every planner inherits from the base layer."""

import pytest
import torch

from planner import CEM

HORIZON, ACTION_DIM = 4, 2


def small_cem(**kwargs) -> CEM:
    params = dict(horizon=HORIZON, action_dim=ACTION_DIM, n_samples=64, n_elites=8, n_iters=10)
    return CEM(**{**params, **kwargs})


def test_nan_candidates_rank_worst():
    target = torch.tensor([[0.5, -0.5]])

    def energy(actions: torch.Tensor) -> torch.Tensor:
        cost = (actions - target[:, None, None]).square().sum(dim=(2, 3))
        return torch.where(actions[..., 0, 0] > 0.6, float("nan"), cost)  # (B, N)

    result = small_cem().plan(energy, batch_size=1, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(result.actions).all() and torch.isfinite(result.cost).all()
    assert (result.actions - target[:, None]).abs().max() < 0.1


def test_all_nan_problem_returns_finite_mean_and_infinite_cost():
    target = torch.tensor([0.2, 0.3])

    def energy(actions: torch.Tensor) -> torch.Tensor:
        cost = (actions - target).square().sum(dim=(2, 3))  # (B, N)
        cost[0] = float("nan")  # problem 0 has no valid candidate; -inf counts as invalid too
        cost[1, ::2] = -float("inf")
        return cost

    low, high = torch.tensor([0.1, -1.0]), torch.tensor([1.0, 0.5])
    generator = torch.Generator().manual_seed(0)
    result = small_cem(low=low, high=high).plan(energy, batch_size=2, generator=generator)
    assert torch.isfinite(result.actions).all()
    assert (result.actions >= low).all() and (result.actions <= high).all()
    assert torch.isinf(result.cost[0]) and result.cost[0] > 0
    assert result.cost[1] < 0.05


@pytest.mark.parametrize("bad", [lambda a: a.sum(dim=(1, 2, 3)), lambda a: a.sum(dim=3)])
def test_wrong_energy_shape_names_the_expected_shape(bad):
    with pytest.raises(ValueError, match=r"shape \(B, N\) = \(2, 64\), got"):
        small_cem().plan(bad, batch_size=2)


def test_energy_not_returning_a_tensor_is_rejected():
    with pytest.raises(ValueError, match=r"\(B, N\)"):
        small_cem().plan(lambda actions: 0.0, batch_size=1)


def test_bad_plan_arguments():
    energy = lambda actions: actions.sum(dim=(2, 3))  # noqa: E731
    with pytest.raises(ValueError, match="init"):
        small_cem().plan(energy, batch_size=2, init=torch.zeros(1, HORIZON, ACTION_DIM))
    with pytest.raises(ValueError, match="init"):
        small_cem().plan(
            energy, batch_size=1, init=torch.full((1, HORIZON, ACTION_DIM), float("nan"))
        )
    with pytest.raises(ValueError, match="batch_size"):
        small_cem().plan(energy, batch_size=0)
    with pytest.raises(ValueError, match="time_budget_s"):
        small_cem().plan(energy, batch_size=1, time_budget_s=0.0)
    with pytest.raises(ValueError, match="max_iters"):
        small_cem().plan(energy, batch_size=1, max_iters=0)


@pytest.mark.parametrize("max_iters, expected", [(3, 3), (10, 10), (25, 10)])
def test_max_iters_caps_the_iterations(max_iters, expected):
    result = small_cem().plan(
        lambda actions: actions.square().sum(dim=(2, 3)), batch_size=2, max_iters=max_iters
    )
    assert result.trace["n_iters"] == expected
    assert result.trace["best_cost"].shape == (expected, 2)
