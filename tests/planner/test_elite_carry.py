"""iCEM's elites carried from one plan to the next (Pinneri et al. 2020); the controller's
side is in test_mpc_controller.py."""

import numpy as np
import pytest
import torch

from planner import make_planner

HORIZON, ACTION_DIM = 5, 2


def icem(**kwargs):
    settings = dict(n_samples=16, n_elites=10, n_iters=1, keep_elites=0.3) | kwargs
    return make_planner("icem", horizon=HORIZON, action_dim=ACTION_DIM, **settings)


def quadratic(target: torch.Tensor):
    """Energy sum_t ||a_t - target_t||^2 for targets (B, H, A); its minimiser is the target."""
    return lambda actions: (actions - target[:, None]).square().sum(dim=(2, 3))


def test_plan_returns_the_kept_elites_inside_the_bounds():
    target = torch.full((3, HORIZON, ACTION_DIM), 2.0)  # outside the bounds [-1, 1]
    result = icem(n_iters=2).plan(quadratic(target), batch_size=3, generator=torch.Generator())
    assert result.elites.shape == (3, 3, HORIZON, ACTION_DIM)  # 30% of 10 elites
    assert result.elites.abs().max() <= 1.0
    assert (
        make_planner("cem", horizon=HORIZON, action_dim=ACTION_DIM)
        .plan(quadratic(target), batch_size=3, generator=torch.Generator())
        .elites
        is None
    )


def test_a_carried_optimum_is_found_in_the_first_iteration():
    # Random targets inside the bounds: 16 fresh samples of one iteration cannot hit them, a
    # carried sequence equal to the target scores exactly 0.
    target = torch.rand(2, HORIZON, ACTION_DIM, generator=torch.Generator().manual_seed(0)) - 0.5
    carry = torch.stack([torch.zeros_like(target), target], dim=1)  # (B, M=2, H, A)
    energy = quadratic(target)
    plain = icem().plan(energy, batch_size=2, generator=torch.Generator().manual_seed(1))
    carried = icem().plan(
        energy, batch_size=2, generator=torch.Generator().manual_seed(1), carry=carry
    )
    assert (plain.cost > 0.1).all()
    assert torch.equal(carried.cost, torch.zeros(2)) and torch.equal(carried.actions, target)


def test_carry_is_checked():
    energy = quadratic(torch.zeros(2, HORIZON, ACTION_DIM))
    with pytest.raises(ValueError, match=r"carry must have shape \(B, M, H, A\) = \(2, M, 5, 2\)"):
        icem().plan(energy, batch_size=2, carry=torch.zeros(2, 3, HORIZON + 1, ACTION_DIM))
    with pytest.raises(ValueError, match="carry must be finite"):
        icem().plan(energy, batch_size=2, carry=torch.full((2, 1, HORIZON, ACTION_DIM), np.nan))
    cem = make_planner("cem", horizon=HORIZON, action_dim=ACTION_DIM)
    with pytest.raises(ValueError, match="CEM does not use carry"):
        cem.plan(energy, batch_size=2, carry=torch.zeros(2, 1, HORIZON, ACTION_DIM))
