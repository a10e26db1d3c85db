"""The plan pool: controllers in separate threads planned in one batched call.

Known answer: with the same seed, two single-problem controllers whose plans the pool batches
act exactly like one controller given both observations as a batch of two (the point world
model of test_mpc_controller), and the pool makes one planner call per step, not two.
"""

import threading

import numpy as np
import pytest
import torch

from planner import GoalDistance, LatentEnergy, MPCController, PlanPool, make_planner
from tests.point_world_model import PointWorldModel, render

STARTS = np.array([[0.0, 0.0], [1.0, -1.0]])
GOALS = np.array([[2.0, -1.5], [-1.0, 0.5]])
STEPS = 6


def cem():
    return make_planner(
        "cem", horizon=5, action_dim=2, low=-0.5, high=0.5, n_samples=64, n_elites=8, n_iters=4
    )


def count_calls(planner, monkeypatch) -> list[int]:
    """Batch sizes of the planner's calls, appended as they are made."""
    sizes: list[int] = []
    plan = planner.plan

    def counting_plan(energy, **kwargs):
        sizes.append(kwargs["batch_size"])
        return plan(energy, **kwargs)

    monkeypatch.setattr(planner, "plan", counting_plan)
    return sizes


@pytest.mark.parametrize("extra", [{}, {"null_candidate": True}, {"warm_iters": 2}])
def test_two_pooled_controllers_act_as_one_batched_controller(monkeypatch, extra):
    world_model, cost = PointWorldModel(), GoalDistance("all")
    options = {"cost": cost, **extra}
    reference = MPCController(
        world_model, cem(), generator=torch.Generator().manual_seed(3), **options
    )
    reference.reset({"pixels": render(GOALS)})
    position, expected = STARTS.copy(), []
    for _ in range(STEPS):
        action = reference.act({"pixels": render(position)})
        expected.append(action)
        position = position + action

    pool = PlanPool(cem(), generator=torch.Generator().manual_seed(3), window_s=10.0)
    sizes = count_calls(pool.planner, monkeypatch)
    members = [pool.member() for _ in GOALS]
    controllers = [MPCController(world_model, m, **options) for m in members]
    actions = np.zeros((STEPS, *STARTS.shape), dtype=np.float32)

    def drive(i: int) -> None:
        controllers[i].reset({"pixels": render(GOALS[i])})
        position = STARTS[i].copy()
        for step in range(STEPS):
            actions[step, i] = controllers[i].act({"pixels": render(position)})
            position = position + actions[step, i]

    threads = [threading.Thread(target=drive, args=(i,)) for i in range(len(GOALS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    pool.close()
    np.testing.assert_array_equal(actions, np.stack(expected))
    assert sizes == [2] * STEPS  # one call per step for both controllers
    assert pool.n_calls == STEPS and pool.n_problems == 2 * STEPS
    assert controllers[0].last_result.trace["batch_size"] == 2
    assert controllers[0].last_result.actions.shape == (1, 5, 2)


def test_a_member_that_left_is_not_waited_for():
    pool = PlanPool(cem(), generator=torch.Generator().manual_seed(0), window_s=30.0)
    gone, staying = pool.member(), pool.member()
    gone.leave()
    energy = LatentEnergy(PointWorldModel(), GoalDistance("all")).bind(
        torch.zeros(1, 1, 1, 2), torch.ones(1, 1, 2)
    )
    result = staying.plan(energy, batch_size=1)  # would wait 30 s for `gone`
    pool.close()
    assert result.actions.shape == (1, 5, 2) and pool.n_calls == 1
    assert (result.actions[0, 0] > 0.3).all()  # first towards the goal at (1, 1)


def test_planner_errors_reach_the_member_and_the_pool_keeps_planning():
    pool = PlanPool(cem(), window_s=0.0)
    member = pool.member()
    energy = LatentEnergy(PointWorldModel(), GoalDistance("all"))
    z_hist, z_goal = torch.zeros(1, 1, 1, 2), torch.ones(1, 1, 2)
    with pytest.raises(ValueError, match="init must have shape"):
        member.plan(energy.bind(z_hist, z_goal), batch_size=1, init=torch.zeros(1, 3, 2))
    assert member.plan(energy.bind(z_hist, z_goal), batch_size=1).actions.shape == (1, 5, 2)
    pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        member.plan(energy.bind(z_hist, z_goal), batch_size=1)
