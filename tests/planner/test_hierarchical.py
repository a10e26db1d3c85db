"""The two-level controller on the point of `tests.point_world_model`: a macro-action u in
[-1, 1]^2 moves the point by 2 u over a coarse step of 4 environment steps (the low level moves
it by at most 0.5 per axis and step), so with the goal distance averaged over the coarse steps
the best plan heads for the goal at full speed and its first state is known."""

import numpy as np
import pytest
import torch

from planner import GoalDistance, MPCController, make_planner
from planner.errors import PlannerArgumentError
from planner.hierarchical import HierarchicalController, MacroActionDynamics
from planner.temporal_distance import TemporalDistance
from tests.point_world_model import PointWorldModel, render

COARSE = 4  # environment steps per coarse step
REACH = 2.0  # the farthest a macro-action moves the point per axis


class MacroPointModel:
    """The high level: (B, T, 1, 2) history, (B, N, H, 2) macro-actions -> positions."""

    device = torch.device("cpu")
    latent_action_dim = 2
    frameskip = COARSE

    action_dim = 2 * COARSE  # a raw block: COARSE raw 2-D actions, time-major

    def rollout(self, z_hist, actions, past_actions=None, latent_actions=False):
        if not latent_actions:  # its macro-action encoder: the block's net move / REACH
            actions = actions.unflatten(-1, (COARSE, 2)).sum(dim=-2) / REACH
        return z_hist[:, -1, None, None] + REACH * actions.cumsum(dim=2)[..., None, :]


def hierarchical(high_horizon: int = 2, seed: int = 0, **options) -> HierarchicalController:
    low_planner = make_planner("cem", horizon=2, action_dim=2, low=-0.5, high=0.5,
                               n_samples=100, n_elites=10, n_iters=10)  # fmt: skip
    generator = torch.Generator().manual_seed(seed)
    low = MPCController(PointWorldModel(), low_planner, cost=GoalDistance("all"),
                        generator=generator)  # fmt: skip
    high_planner = make_planner("cem", horizon=high_horizon, action_dim=2, n_samples=200,
                                n_elites=20, n_iters=10)  # fmt: skip
    cost = GoalDistance("all")
    return HierarchicalController(
        low, MacroPointModel(), high_planner, cost=cost, generator=generator, **options
    )


def test_subgoal_is_the_first_state_of_the_best_coarse_plan():
    controller = hierarchical()
    controller.reset({"pixels": render(np.array([5.0, 0.0]))})
    controller.act({"pixels": render(np.zeros(2))})
    # heading straight at full speed: (2, 0) after one coarse step, (4, 0) after two
    subgoal = controller.subgoal[0, 0].numpy()
    np.testing.assert_allclose(subgoal, [2.0, 0.0], atol=0.1)
    torch.testing.assert_close(controller.low.goal_latent, controller.subgoal)
    np.testing.assert_allclose(controller.last_result.actions[0, 1].numpy(), [1.0, 0.0],
                               atol=0.05)  # fmt: skip


def test_raw_blocks_plan_through_the_macro_action_encoder():
    low_planner = make_planner("cem", horizon=2, action_dim=2, low=-0.5, high=0.5)
    low = MPCController(PointWorldModel(), low_planner, cost=GoalDistance("all"))
    high_planner = make_planner("cem", horizon=2, action_dim=2 * COARSE, low=-0.5, high=0.5,
                                n_samples=300, n_elites=30, n_iters=15)  # fmt: skip
    controller = HierarchicalController(low, MacroPointModel(), high_planner,
                                        cost=GoalDistance("all"), latent=False,
                                        generator=torch.Generator().manual_seed(0))  # fmt: skip
    controller.reset({"pixels": render(np.array([5.0, 0.0]))})
    controller.act({"pixels": render(np.zeros(2))})
    # four raw steps of at most 0.5 per axis: (2, 0) is the farthest first coarse state
    np.testing.assert_allclose(controller.subgoal[0, 0].numpy(), [2.0, 0.0], atol=0.1)
    assert controller.last_result.actions.shape == (1, 2, 2 * COARSE)
    assert controller.last_result.actions.abs().max() <= 0.5
    with pytest.raises(PlannerArgumentError, match="raw action blocks have dim 8"):
        HierarchicalController(low, MacroPointModel(), make_planner("cem", horizon=2,
                               action_dim=2), latent=False)  # fmt: skip


def test_reaches_a_far_goal_through_its_subgoals():
    goal = np.array([[5.0, 0.0], [-3.0, 4.0]])
    position = np.zeros((2, 2))
    controller = hierarchical()
    controller.reset({"pixels": render(goal)})
    for _ in range(14):
        action = controller.act({"pixels": render(position)})
        assert action.shape == (2, 2) and np.abs(action).max() <= 0.5
        position = position + action
    # Tolerance: CEM's noise on the last corrections plus the image's 0.05 quantisation.
    assert (np.linalg.norm(goal - position, axis=1) < 0.15).all()
    assert len(controller.plan_times_s) == 4  # steps 0, 4, 8, 12
    assert [step for step, _ in controller.subgoals] == [0, 4, 8, 12]
    # the last subgoal is the goal itself: no coarse step gets closer than being there
    torch.testing.assert_close(controller.subgoals[-1][1], controller.low.goal_latent)


def test_at_the_goal_the_subgoal_is_the_goal_itself():
    controller = hierarchical(replan_every=1)
    goal = render(np.array([1.0, -1.0]))
    controller.reset({"pixels": goal})
    z_goal = controller.low.goal_latent.clone()
    controller.act({"pixels": goal})
    torch.testing.assert_close(controller.subgoal, z_goal, rtol=0, atol=0)


class StraightLineHead:
    """A temporal-distance head for the point: steps to go are the straight-line distance."""

    def distance(self, a, b):
        return (a - b).flatten(-2).norm(dim=-1)


def test_a_cost_that_reads_the_model_is_bound_to_the_high_level():
    """`TemporalDistance` reads the high-level model's head, in the plan and in the check
    that a subgoal gets closer; with the distance averaged over the coarse steps the best plan
    heads for goal (5, 0) at full speed, so the subgoal is (2, 0); at the goal it is the goal."""
    high_model = MacroPointModel()
    high_model.temporal_distance = StraightLineHead()
    low = MPCController(PointWorldModel(), make_planner("cem", horizon=2, action_dim=2,
                                                        low=-0.5, high=0.5))  # fmt: skip
    high_planner = make_planner("cem", horizon=2, action_dim=2, n_samples=200, n_elites=20,
                                n_iters=10)  # fmt: skip
    controller = HierarchicalController(low, high_model, high_planner,
                                        cost=TemporalDistance("all"),
                                        generator=torch.Generator().manual_seed(0))  # fmt: skip
    controller.reset({"pixels": render(np.array([5.0, 0.0]))})
    controller.act({"pixels": render(np.zeros(2))})
    np.testing.assert_allclose(controller.subgoal[0, 0].numpy(), [2.0, 0.0], atol=0.1)
    controller.reset({"pixels": render(np.array([5.0, 0.0]))})
    controller.act({"pixels": render(np.array([5.0, 0.0]))})
    torch.testing.assert_close(controller.subgoal, controller.low.goal_latent, rtol=0, atol=0)


def test_refuses_what_does_not_fit():
    low = MPCController(PointWorldModel(), make_planner("cem", horizon=2, action_dim=2))
    with pytest.raises(PlannerArgumentError, match="latent macro-actions have dim 2"):
        HierarchicalController(low, MacroPointModel(), make_planner("cem", horizon=2, action_dim=3))
    with pytest.raises(PlannerArgumentError, match="subgoal_step"):
        HierarchicalController(low, MacroPointModel(), make_planner("cem", horizon=2, action_dim=2),
                               subgoal_step=3)  # fmt: skip
    controller = hierarchical()
    with pytest.raises(ValueError, match="before reset"):
        controller.act({"pixels": render(np.zeros(2))})
    with pytest.raises(ValueError, match="before reset"):
        low.set_goal_latent(torch.zeros(1, 1, 2))
    low.reset({"pixels": render(np.zeros(2))})
    with pytest.raises(ValueError, match=r"must have shape \(1, 1, 2\)"):
        low.set_goal_latent(torch.zeros(2, 1, 2))


def test_macro_action_dynamics_rolls_out_latent_actions():
    dynamics = MacroActionDynamics(MacroPointModel())
    z = torch.zeros(1, 1, 1, 2)
    u = torch.tensor([[[[1.0, 0.0], [0.0, -0.5]]]])  # (B, N, H, d)
    expected = torch.tensor([[[[[2.0, 0.0]], [[2.0, -1.0]]]]])
    torch.testing.assert_close(dynamics.rollout(z, u), expected)
