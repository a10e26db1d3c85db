"""Sequences scored before the optimiser starts (`Planner.plan(candidates=...)`) and the
controller's null plan (`MPCController(null_candidate=True)`, pytorch_mppi's
``sample_null_action``).

Known answers: a candidate equal to the minimiser of a quadratic energy is returned with cost
exactly 0 by every planner, whose own few samples cannot hit it; a point already at its goal
is commanded exactly 0 with the null plan, and not without it (its warm start, the plan made
one step before, still moves).
"""

import numpy as np
import pytest
import torch

from planner import GoalDistance, MPCController, make_planner
from tests.point_world_model import PointWorldModel, render

HORIZON, ACTION_DIM = 4, 2
FEW = {
    "cem": dict(n_samples=8, n_elites=2, n_iters=1),
    "icem": dict(n_samples=8, n_elites=2, n_iters=1),
    "mppi": dict(n_samples=8, n_iters=1),
    "gd": dict(n_iters=1),
    "adam": dict(n_iters=1),
    "gradcem": dict(n_samples=8, n_elites=2, n_iters=1, n_grad_elites=1, n_grad_steps=1),
}


def quadratic(target: torch.Tensor):
    """Energy sum_t ||a_t - target_t||^2 for targets (B, H, A); its minimiser is the target."""
    return lambda actions: (actions - target[:, None]).square().sum(dim=(2, 3))


@pytest.mark.parametrize("name", sorted(FEW))
def test_a_first_scored_minimiser_is_returned_by_every_planner(name):
    target = torch.rand(2, HORIZON, ACTION_DIM, generator=torch.Generator().manual_seed(0)) - 0.5
    planner = make_planner(name, horizon=HORIZON, action_dim=ACTION_DIM, **FEW[name])
    candidates = torch.stack([torch.ones_like(target), target], dim=1)  # (B, M=2, H, A)
    plain = planner.plan(quadratic(target), batch_size=2, generator=torch.Generator())
    first = planner.plan(
        quadratic(target), batch_size=2, generator=torch.Generator(), candidates=candidates
    )
    assert (plain.cost > 1e-3).all()
    assert torch.equal(first.cost, torch.zeros(2)) and torch.equal(first.actions, target)


def test_first_scored_candidates_are_clamped_and_checked():
    planner = make_planner("cem", horizon=HORIZON, action_dim=ACTION_DIM, **FEW["cem"])
    target = torch.ones(1, HORIZON, ACTION_DIM)  # on the upper bound
    outside = torch.full((1, 1, HORIZON, ACTION_DIM), 3.0)
    result = planner.plan(quadratic(target), batch_size=1, candidates=outside)
    assert torch.equal(result.actions, target) and torch.equal(result.cost, torch.zeros(1))
    energy = quadratic(torch.zeros(2, HORIZON, ACTION_DIM))
    with pytest.raises(ValueError, match=r"candidates must have shape \(B, M, H, A\)"):
        planner.plan(energy, batch_size=2, candidates=torch.zeros(2, 1, HORIZON + 1, ACTION_DIM))
    with pytest.raises(ValueError, match="candidates must be finite"):
        planner.plan(energy, batch_size=2, candidates=torch.full((2, 1, HORIZON, 2), np.nan))


@pytest.mark.parametrize("null_candidate", [False, True])
def test_a_point_at_its_goal_stays_exactly_still_only_with_the_null_plan(null_candidate):
    planner = make_planner(
        "cem", horizon=5, action_dim=2, low=-0.5, high=0.5, n_samples=16, n_elites=4, n_iters=2
    )
    mpc = MPCController(
        PointWorldModel(),
        planner,
        cost=GoalDistance("all"),
        generator=torch.Generator().manual_seed(0),
        null_candidate=null_candidate,
    )
    goal = np.array([[0.5, -1.0], [1.0, 1.0]])
    mpc.reset(render(goal))
    mpc.act(render(goal - 1.0))  # the warm start of the next plan heads for the goal
    action = mpc.act(render(goal))
    assert np.array_equal(action, np.zeros((2, 2), np.float32)) == null_candidate
    assert (np.abs(action).max(axis=1) > 0.01).all() != null_candidate


@pytest.mark.parametrize("margin, far_moves", [(0.0, True), (0.2, True), (0.96, False)])
def test_the_null_margin_keeps_a_point_still_unless_its_plan_gains_more(margin, far_moves):
    """Problem 0 is 1 per axis from its goal, at most 0.5 per step: the first predicted step
    keeps at least 0.5 per axis, so no plan scores below 1/20 of the null plan's energy (a gain
    of at most 0.95); a margin above that keeps it exactly still, a small one lets it move.
    Problem 1 starts at its goal: nothing beats doing nothing, it stays still at every margin,
    and its reported cost is the null plan's, 0."""
    planner = make_planner(
        "cem", horizon=5, action_dim=2, low=-0.5, high=0.5, n_samples=16, n_elites=4, n_iters=2
    )
    mpc = MPCController(PointWorldModel(), planner, cost=GoalDistance("all"),
                        generator=torch.Generator().manual_seed(0), null_candidate=True,
                        null_margin=margin)  # fmt: skip
    goal = np.array([[0.5, -1.0], [1.0, 1.0]])
    mpc.reset(render(goal))
    action = mpc.act(render(goal - np.array([[1.0, 1.0], [0.0, 0.0]])))
    assert (np.abs(action[0]).max() > 0.01) == far_moves
    assert np.array_equal(action[0], np.zeros(2, np.float32)) != far_moves
    assert np.array_equal(action[1], np.zeros(2, np.float32))
    assert float(mpc.last_result.cost[1]) == 0.0
    assert (float(mpc.last_result.cost[0]) > 0.0) and np.array_equal(
        mpc.last_result.actions[0, 0].numpy(), action[0]
    )


def test_the_null_margin_is_checked():
    planner = make_planner("cem", horizon=5, action_dim=2, n_samples=16, n_elites=4, n_iters=2)
    with pytest.raises(ValueError, match=r"null_margin must be in \[0, 1\), got 1.0"):
        MPCController(PointWorldModel(), planner, null_candidate=True, null_margin=1.0)
    with pytest.raises(ValueError, match="null_margin > 0 needs null_candidate=True"):
        MPCController(PointWorldModel(), planner, null_margin=0.1)
