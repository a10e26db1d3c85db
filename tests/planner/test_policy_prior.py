"""The goal policy's plan, rolled through the world model, is scored among the candidates (and
can start the search): with a policy that knows the way the controller follows it where the
planner alone cannot find it; with a wrong one the energy still decides."""

import numpy as np
import pytest
import torch

from planner import AsyncController, GoalDistance, MPCController, make_planner
from planner.errors import PlannerArgumentError
from planner.policy_prior import policy_plan
from tests.point_world_model import PointWorldModel, render


class PolicyPointModel(PointWorldModel):
    """The point world model with a goal policy: a step of ``gain`` times the way to go."""

    def __init__(self, gain: float) -> None:
        self.gain = gain
        self.goal_policy = lambda z, z_goal: self.gain * (z_goal - z)[:, 0]  # (B, 2)


def test_the_policy_plan_follows_its_own_imagined_states():
    model = PolicyPointModel(gain=0.5)
    z_hist, z_goal = torch.zeros(1, 1, 1, 2), torch.tensor([[[4.0, -8.0]]])
    low, high = torch.full((2,), -3.0), torch.full((2,), 3.0)
    plan = policy_plan(model, model.goal_policy, z_hist, z_goal, 3, low, high)
    # way to go (4, -8): a half of it, clamped at 3 in y; then half of what is left, twice
    expected = [[2.0, -3.0], [1.0, -2.5], [0.5, -1.25]]
    torch.testing.assert_close(plan[0], torch.tensor(expected))


def one_sample_controller(model, policy_prior):
    """A CEM that draws one sample per iteration far from the goal direction: alone it cannot
    find the way; the null plan is scored too."""
    planner = make_planner("cem", horizon=4, action_dim=2, low=-0.5, high=0.5, n_samples=1,
                           n_elites=1, n_iters=1, init_std=1e-3)  # fmt: skip
    return MPCController(model, planner, cost=GoalDistance("all"), null_candidate=True,
                         policy_prior=policy_prior,
                         generator=torch.Generator().manual_seed(0))  # fmt: skip


@pytest.mark.parametrize("prior", ["candidate", "warm_start"])
def test_a_policy_that_knows_the_way_is_followed(prior):
    goal = np.array([1.0, -1.0])
    mpc = one_sample_controller(PolicyPointModel(gain=1.0), prior)
    mpc.reset(render(goal))
    action = mpc.act(render(np.zeros(2)))
    np.testing.assert_allclose(action, [0.5, -0.5], atol=0.02)  # the policy's step, clamped
    without = one_sample_controller(PolicyPointModel(gain=1.0), None)
    without.reset(render(goal))
    assert np.abs(without.act(render(np.zeros(2)))).max() < 0.05  # the null plan or a guess


@pytest.mark.parametrize("prior", ["candidate", "warm_start"])
def test_the_asynchronous_controller_follows_a_policy_that_knows_the_way(prior):
    planner = make_planner("cem", horizon=4, action_dim=2, low=-0.5, high=0.5, n_samples=1,
                           n_elites=1, n_iters=1, init_std=1e-3)  # fmt: skip
    controller = AsyncController(PolicyPointModel(gain=1.0), planner, deadline_s=60.0,
                                 cost=GoalDistance("all"), null_candidate=True,
                                 policy_prior=prior,
                                 generator=torch.Generator().manual_seed(0))  # fmt: skip
    try:
        controller.reset(render(np.array([1.0, -1.0])))
        action = controller.act(render(np.zeros(2)))  # waits for the first plan
    finally:
        controller.close()
    np.testing.assert_allclose(action, [0.5, -0.5], atol=0.02)


def test_only_executes_the_policy_even_the_wrong_way():
    mpc = one_sample_controller(PolicyPointModel(gain=-1.0), "only")
    mpc.reset(render(np.array([0.2, -0.1])))
    np.testing.assert_allclose(mpc.act(render(np.zeros(2))), [-0.2, 0.1], atol=0.02)
    assert mpc.last_result.trace["policy_only"]


def test_a_policy_that_goes_the_wrong_way_is_not_executed():
    mpc = one_sample_controller(PolicyPointModel(gain=-1.0), "candidate")
    mpc.reset(render(np.array([1.0, -1.0])))
    action = mpc.act(render(np.zeros(2)))
    assert np.abs(action).max() < 0.05  # the null plan beats walking away


def test_policy_prior_needs_a_goal_policy_and_a_known_mode():
    planner = make_planner("cem", horizon=2, action_dim=2, low=-1, high=1)
    with pytest.raises(PlannerArgumentError, match="goal_policy"):
        MPCController(PointWorldModel(), planner, policy_prior="candidate")
    with pytest.raises(PlannerArgumentError, match="policy_prior"):
        MPCController(PolicyPointModel(1.0), planner, policy_prior="always")


@pytest.mark.parametrize("margin, follows_policy", [(0.0, False), (0.5, False), (0.9, True)])
def test_the_policy_margin_executes_the_proposal_unless_the_search_gains_more(
    margin, follows_policy
):
    """A slow policy (a quarter of the way per step) towards a goal 1 per axis away: over 4
    steps of at most 0.5 the best plan (0.5, then at the goal) scores 0.125 against the
    policy's 0.578, a gain of 0.78 that the search gets most of; a margin above it executes the
    policy's first step exactly, a smaller one the search's longer step."""
    planner = make_planner("cem", horizon=4, action_dim=2, low=-0.5, high=0.5, n_samples=64,
                           n_elites=8, n_iters=3, init_std=0.5)  # fmt: skip
    mpc = MPCController(PolicyPointModel(gain=0.25), planner, cost=GoalDistance("all"),
                        policy_prior="candidate", policy_margin=margin,
                        generator=torch.Generator().manual_seed(0))  # fmt: skip
    mpc.reset(render(np.array([1.0, -1.0])))
    action = mpc.act(render(np.zeros(2)))
    assert np.array_equal(action, np.array([0.25, -0.25], np.float32)) == follows_policy
    assert (np.abs(action).min() > 0.35) != follows_policy


def test_the_policy_margin_is_checked():
    planner = make_planner("cem", horizon=2, action_dim=2, low=-1, high=1)
    with pytest.raises(PlannerArgumentError, match=r"policy_margin must be in \[0, 1\), got 1.0"):
        MPCController(PolicyPointModel(1.0), planner, policy_prior="candidate", policy_margin=1.0)
    with pytest.raises(PlannerArgumentError, match="policy_margin > 0 needs policy_prior"):
        MPCController(PolicyPointModel(1.0), planner, policy_prior="only", policy_margin=0.1)
