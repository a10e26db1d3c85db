"""The receding-horizon controller with a fake linear world model.

A point moves in the plane by its action, x_{t+1} = x_t + a_t. Its image stores the position
in pixel (0, 0) (two channels, 0.05 per grey level, 128 is the origin); the world model decodes
that pixel into one token (P = 1, D = 2) and rolls out the cumulative sum of the actions. The
goal distance is averaged over all steps, so the optimal plan heads straight for the goal at
full speed (with the final step alone, any plan reaching the goal in time would be optimal).
"""

import numpy as np
import pytest
import torch

from planner import GoalDistance, MPCController, PlanResult, make_planner, shift_plan
from tests.point_world_model import SIZE, PointWorldModel, render

HORIZON = 5


def controller(replan_every: int = 1, seed: int = 0) -> MPCController:
    planner = make_planner(
        "cem",
        horizon=HORIZON,
        action_dim=2,
        low=-0.5,
        high=0.5,
        n_samples=100,
        n_elites=10,
        n_iters=10,
    )
    generator = torch.Generator().manual_seed(seed)
    return MPCController(
        PointWorldModel(), planner, replan_every, cost=GoalDistance("all"), generator=generator
    )


def test_drives_a_batch_of_points_to_their_goals():
    position = np.array([[0.0, 0.0], [1.0, -1.0]])
    goal = np.array([[2.0, -1.5], [-1.0, 0.5]])
    mpc = controller()
    mpc.reset({"pixels": render(goal)})
    start_distance = np.linalg.norm(goal - position, axis=1)
    for _ in range(10):
        action = mpc.act({"pixels": render(position)})
        assert action.shape == (2, 2) and action.dtype == np.float32
        assert np.abs(action).max() <= 0.5
        position = position + action
    # Tolerance: CEM's sampling noise on the last small corrections, plus 0.025 quantisation.
    assert (np.linalg.norm(goal - position, axis=1) < 0.15).all()
    assert (start_distance > 1.0).all()
    assert len(mpc.plan_times_s) == 10 and isinstance(mpc.last_result, PlanResult)


class ProprioPointWorldModel:
    """The point's position is in its proprioception only; the image is blank."""

    device = torch.device("cpu")
    proprio_dim = 2
    frameskip = 1

    def encode(self, pixels: torch.Tensor, proprio: torch.Tensor) -> torch.Tensor:
        """(B, T, H, W, 3), (B, T, 2) -> (B, T, 1, 2)."""
        return proprio[:, :, None].float()

    rollout = PointWorldModel.rollout


def test_proprio_reaches_a_world_model_that_takes_it():
    planner = make_planner(
        "cem", horizon=HORIZON, action_dim=2, low=-0.5, high=0.5, n_samples=100, n_elites=10
    )
    generator = torch.Generator().manual_seed(0)
    mpc = MPCController(ProprioPointWorldModel(), planner, generator=generator)
    blank = np.zeros((SIZE, SIZE, 3), np.uint8)
    goal = np.array([1.5, -1.0], np.float32)
    mpc.reset({"pixels": blank, "proprio": goal})
    position = np.zeros(2, np.float32)
    for _ in range(8):
        position = position + mpc.act({"pixels": blank, "proprio": position})
    assert np.linalg.norm(goal - position) < 0.15
    with pytest.raises(ValueError, match="takes proprioception"):
        mpc.act(blank)
    with pytest.raises(ValueError, match="proprio must be"):
        mpc.act({"pixels": blank, "proprio": np.zeros(3)})


def test_single_observation_gives_a_single_action():
    mpc = controller()
    mpc.reset(render(np.array([1.0, 1.0])))
    action = mpc.act(render(np.array([0.0, 0.0])))
    assert action.shape == (2,) and action.dtype == np.float32
    assert np.allclose(action, [0.5, 0.5], atol=0.1)


def test_warm_start_is_the_previous_plan_shifted(record_plans):
    mpc = controller()
    calls = record_plans(mpc)
    mpc.reset(render(np.array([2.0, 2.0])))
    first_action = mpc.act(render(np.array([0.0, 0.0])))
    mpc.act(render(first_action.astype(np.float64)))
    (_, first), (second_init, _) = calls
    expected = torch.cat([first.actions[:, 1:], first.actions[:, -1:]], dim=1)
    assert torch.equal(second_init, expected)
    assert torch.equal(shift_plan(first.actions, 1), expected)


def test_icem_elites_are_carried_to_the_next_plan_shifted(monkeypatch):
    planner = make_planner(
        "icem",
        horizon=HORIZON,
        action_dim=2,
        low=-0.5,
        high=0.5,
        n_samples=16,
        n_elites=10,
        n_iters=3,
    )
    mpc = MPCController(
        PointWorldModel(), planner, replan_every=2, generator=torch.Generator().manual_seed(0)
    )
    calls: list[tuple[torch.Tensor | None, PlanResult]] = []
    plan = planner.plan

    def recording_plan(energy, **kwargs):
        result = plan(energy, **kwargs)
        calls.append((kwargs["carry"], result))
        return result

    monkeypatch.setattr(planner, "plan", recording_plan)
    mpc.reset(render(np.array([2.0, 2.0])))
    for step in range(3):
        mpc.act(render(np.array([0.1 * step, 0.0])))
    (first_carry, first), (second_carry, _) = calls
    assert first_carry is None
    assert torch.equal(second_carry, shift_plan(first.elites, 2))
    assert torch.equal(second_carry[:, :, :3], first.elites[:, :, 2:])


def test_warm_iters_caps_every_plan_but_the_episodes_first(record_plans):
    mpc = controller()
    mpc.warm_iters = 2
    calls = record_plans(mpc)
    for _ in range(2):  # two episodes: the cap lifts again after reset
        mpc.reset(render(np.array([2.0, 2.0])))
        position = np.zeros(2)
        for _ in range(3):
            position = position + mpc.act(render(position))
    assert [result.trace["n_iters"] for _, result in calls] == [10, 2, 2, 10, 2, 2]


def test_replan_every_two_plans_on_every_second_call(record_plans):
    mpc = controller(replan_every=2)
    calls = record_plans(mpc)
    mpc.reset(render(np.array([2.0, 2.0])))
    actions = [mpc.act(render(np.array([0.1 * step, 0.0]))) for step in range(5)]
    assert len(calls) == 3 and len(mpc.plan_times_s) == 3
    (_, first), (second_init, second), _ = calls
    assert np.array_equal(actions[0], first.actions[0, 0].numpy())
    assert np.array_equal(actions[1], first.actions[0, 1].numpy())
    assert np.array_equal(actions[2], second.actions[0, 0].numpy())
    tail = first.actions[:, -1:].expand(-1, 2, -1)
    assert torch.equal(second_init, torch.cat([first.actions[:, 2:], tail], dim=1))


def test_history_keeps_the_last_encodings_and_the_actions_between_them():
    seen = []

    class RecordingWorldModel(PointWorldModel):
        def rollout(self, z_hist, actions, past_actions=None):
            seen.append((z_hist[:, :, 0, 0].clone(), past_actions.clone()))
            return super().rollout(z_hist, actions)

    planner = make_planner("cem", horizon=HORIZON, action_dim=2, n_samples=8, n_elites=2, n_iters=1)
    mpc = MPCController(RecordingWorldModel(), planner, history=3)
    # Until three observations were seen, the first one fills the history, with zero actions.
    expected = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 2.0], [1.0, 2.0, 3.0], [2.0, 3.0, 4.0]])
    mpc.reset(render(np.array([0.0, 0.0])))
    returned = [torch.zeros(1, 2), torch.zeros(1, 2)]
    for step in range(4):
        returned.append(torch.as_tensor(mpc.act(render(np.array([step + 1.0, 0.0]))))[None])
        z_hist, past_actions = seen[-1]  # the plan's energy, after the surprise's rollout
        assert torch.equal(z_hist, expected[step : step + 1])
        assert torch.equal(past_actions, torch.stack(returned[-3:-1], dim=1))


def test_same_generator_seed_gives_the_same_actions():
    def episode(seed: int) -> list[np.ndarray]:
        mpc = controller(seed=seed)
        mpc.reset(render(np.array([2.0, -1.0])))
        return [mpc.act(render(np.array([0.1 * step, 0.0]))) for step in range(3)]

    assert all(np.array_equal(a, b) for a, b in zip(episode(4), episode(4), strict=True))


def test_goal_and_observation_shapes_must_match():
    mpc = controller()
    mpc.reset(np.zeros((SIZE, SIZE, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"goal image has shape \(8, 8, 3\), observation image"):
        mpc.act(np.zeros((2 * SIZE, SIZE, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="goal image has shape"):
        mpc.act(np.zeros((3, SIZE, SIZE, 3), dtype=np.uint8))


def test_act_before_reset_and_bad_pixels_are_rejected():
    mpc = controller()
    with pytest.raises(ValueError, match="before reset"):
        mpc.act(np.zeros((SIZE, SIZE, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        mpc.reset(np.zeros((SIZE, SIZE, 3), dtype=np.float32))


def test_bad_controller_parameters_name_the_field():
    planner = make_planner("cem", horizon=HORIZON, action_dim=2)
    with pytest.raises(ValueError, match="replan_every"):
        MPCController(PointWorldModel(), planner, replan_every=HORIZON + 1)
    with pytest.raises(ValueError, match="history"):
        MPCController(PointWorldModel(), planner, history=0)
    with pytest.raises(ValueError, match="warm_iters"):
        MPCController(PointWorldModel(), planner, warm_iters=0)


def test_surprise_is_the_one_step_prediction_error():
    mpc = controller()
    mpc.reset(render(np.array([2.0, 2.0])))
    position = np.array([0.0, 0.0])
    action = mpc.act(render(position))
    assert mpc.surprise is None
    # Moving as predicted: the linear model explains it up to the 0.025 pixel quantisation.
    position = position + action
    action = mpc.act(render(position))
    assert mpc.surprise.shape == (1,) and mpc.surprise[0] < 0.025**2
    # Teleported by (1.5, -2) instead: the error is that displacement, squared, per dimension.
    position = position + action + np.array([1.5, -2.0])
    mpc.act(render(position))
    assert mpc.surprise[0] == pytest.approx((1.5**2 + 2.0**2) / 2, rel=0.05)
    mpc.reset(render(np.array([2.0, 2.0])))
    assert mpc.surprise is None
