"""The asynchronous controller: on time, with the newest plan shifted by the steps since.

Known answer for the shift: the observation of step s shows s (one grey level) and the world
model's state is [time, 0]; time advances by one per action, and after the action of step t
the model predicts [t + 1, action - t]. The goal is [0, 0], so the optimal plan from step s is
s, s + 1, ... (the time coordinate costs the same whatever the actions), and a plan shifted
correctly gives action t at step t whatever step it was made at, also when it was planned from
the state predicted after the blocks committed while planning. A slow exact planner (it scores
constant-offset sequences k + h, sleeping first) keeps the loop several steps ahead of the
newest plan.
"""

import time

import numpy as np
import pytest
import torch

from planner import AsyncController, GoalDistance, Planner, make_planner
from tests.point_world_model import PointWorldModel, render

HORIZON = 12


class StepWorldModel:
    device = torch.device("cpu")
    proprio_dim = 0
    frameskip = 1

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, T, H, W, 3) uint8 -> (B, T, 1, 2): [the grey level of pixel (0, 0), 0]."""
        time_ = pixels[..., 0, 0, :1].float()
        return torch.cat([time_, torch.zeros_like(time_)], dim=-1)[:, :, None]

    def rollout(self, z_hist, actions, past_actions=None):
        """(B, T, 1, 2), (B, N, H, 1) -> (B, N, H, 1, 2): [t + 1, action - t] for the
        action of time t = t0 + h."""
        steps = torch.arange(actions.shape[2], dtype=torch.float32)[:, None]  # (H, 1)
        times = (z_hist[:, -1, None, None, 0, :1] + steps).expand_as(actions)  # (B, N, H, 1)
        return torch.cat([times + 1, actions - times], dim=-1)[..., None, :]


class SlowOffsetPlanner(Planner):
    """Waits `delay_s`, then returns the best of the sequences k + h for k = 0..63."""

    def __init__(self, delay_s: float) -> None:
        super().__init__(horizon=HORIZON, action_dim=1, low=-100.0, high=100.0)
        self.delay_s = delay_s

    def _optimize(self, run):
        time.sleep(self.delay_s)
        offsets = torch.arange(64, dtype=torch.float32)[:, None, None]  # (N, 1, 1)
        steps = torch.arange(HORIZON, dtype=torch.float32)[:, None]  # (H, 1)
        candidates = (offsets + steps).expand(run.init.shape[0], -1, -1, -1)  # (B, N, H, 1)
        for _ in run.iterations(1):
            run.evaluate(candidates)
        return run.init


def frame(value: int) -> np.ndarray:
    image = np.zeros((4, 4, 3), dtype=np.uint8)
    image[0, 0] = value
    return image


def test_each_tick_returns_on_time_with_the_newest_plan_shifted():
    delay_s, period_s, n_ticks = 0.2, 0.04, 30
    controller = AsyncController(StepWorldModel(), SlowOffsetPlanner(delay_s), deadline_s=0.02)
    controller.reset(frame(0))
    actions, durations = [], []
    for step in range(n_ticks):
        start = time.monotonic()
        actions.append(float(controller.act(frame(step))[0]))
        durations.append(time.monotonic() - start)
        time.sleep(period_s)
    controller.close()
    ages = np.array(controller.plan_ages)
    planned = ages >= 0
    # No tick waited for a plan: each takes far less than one plan (the deadline is 0.02 s).
    assert max(durations) < delay_s
    assert not planned[0] and planned[-5:].all()
    # Before the first plan, the middle of the bounds; then t at step t from any plan's age.
    np.testing.assert_array_equal(np.array(actions)[~planned], 0.0)
    np.testing.assert_array_equal(np.array(actions)[planned], np.arange(n_ticks)[planned])
    assert ages.max() >= 2  # the plans were used several steps after their observation
    assert controller.ticks == n_ticks
    assert controller.deadline_misses >= int((~planned).sum())
    assert len(controller.plan_times_s) >= 2


def test_drives_points_to_their_goals():
    planner = make_planner(
        "cem", horizon=5, action_dim=2, low=-0.5, high=0.5, n_samples=100, n_elites=10, n_iters=10
    )
    controller = AsyncController(
        PointWorldModel(),
        planner,
        deadline_s=2.0,
        cost=GoalDistance("all"),
        generator=torch.Generator().manual_seed(0),
        time_budget_s=1.0,
    )
    position = np.array([[0.0, 0.0], [1.0, -1.0]])
    goal = np.array([[2.0, -1.5], [-1.0, 0.5]])
    controller.reset({"pixels": render(goal)})
    for _ in range(30):
        action = controller.act({"pixels": render(position)})
        assert action.shape == (2, 2) and np.abs(action).max() <= 0.5
        position = position + action
        time.sleep(0.03)  # the loop's period: the thread plans meanwhile
    controller.close()
    # Tolerance: CEM's noise on the last corrections, 0.025 quantisation, plans a few steps old.
    assert (np.linalg.norm(goal - position, axis=1) < 0.2).all()
    assert min(controller.plan_ages) == 0  # the first tick waited for its plan


def test_warm_iters_caps_every_plan_but_the_episodes_first():
    planner = make_planner(
        "cem", horizon=5, action_dim=2, low=-0.5, high=0.5, n_samples=16, n_elites=4, n_iters=10
    )
    controller = AsyncController(PointWorldModel(), planner, deadline_s=2.0, warm_iters=2)
    iterations, plan = [], planner.plan

    def recording_plan(energy, **kwargs):
        result = plan(energy, **kwargs)
        iterations.append(result.trace["n_iters"])
        return result

    planner.plan = recording_plan
    controller.reset(render(np.array([1.0, 1.0])))
    for _ in range(8):
        controller.act(render(np.zeros(2)))
        time.sleep(0.02)
    controller.close()
    assert len(iterations) >= 2
    assert iterations[0] == 10 and set(iterations[1:]) == {2}


@pytest.mark.parametrize("margin, far_moves", [(0.0, True), (0.2, True), (0.96, False)])
def test_the_null_margin_keeps_a_point_still_as_in_the_synchronous_controller(margin, far_moves):
    """`MPCController`'s known answer (tests/planner/test_first_candidates.py): problem 0 is 1
    per axis from its goal, at most 0.5 per step, so no plan gains more than 0.95 of the null
    plan's energy: a margin of 0.96 keeps it exactly still, a small one lets it move; problem 1
    starts at its goal and stays exactly still. The first tick waits for the episode's first
    plan (deadline 2 s), so its action is that plan's."""
    planner = make_planner(
        "cem", horizon=5, action_dim=2, low=-0.5, high=0.5, n_samples=16, n_elites=4, n_iters=2
    )
    controller = AsyncController(
        PointWorldModel(),
        planner,
        deadline_s=2.0,
        cost=GoalDistance("all"),
        generator=torch.Generator().manual_seed(0),
        null_candidate=True,
        null_margin=margin,
    )
    goal = np.array([[0.5, -1.0], [1.0, 1.0]])
    controller.reset(render(goal))
    action = controller.act(render(goal - np.array([[1.0, 1.0], [0.0, 0.0]])))
    controller.close()
    assert controller.plan_ages == [0]
    assert (np.abs(action[0]).max() > 0.01) == far_moves
    assert np.array_equal(action[0], np.zeros(2, np.float32)) != far_moves
    assert np.array_equal(action[1], np.zeros(2, np.float32))


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="null_margin > 0 needs null_candidate=True"):
        AsyncController(StepWorldModel(), SlowOffsetPlanner(0.0), deadline_s=1.0, null_margin=0.1)
    with pytest.raises(ValueError, match="deadline_s"):
        AsyncController(StepWorldModel(), SlowOffsetPlanner(0.0), deadline_s=0.0)
    with pytest.raises(ValueError, match="warm_iters"):
        AsyncController(StepWorldModel(), SlowOffsetPlanner(0.0), deadline_s=1.0, warm_iters=0)
    controller = AsyncController(StepWorldModel(), SlowOffsetPlanner(0.0), deadline_s=1.0)
    with pytest.raises(ValueError, match="before reset"):
        controller.act(frame(0))
    controller.reset(frame(0))
    with pytest.raises(ValueError, match="shape"):
        controller.act(np.zeros((5, 4, 3), dtype=np.uint8))
    controller.close()
