"""Composable costs."""

import pytest
import torch

from planner import ActionMagnitude, GoalDistance, WeightedSum

B, N, H, P, D, A = 2, 3, 4, 5, 6, 2


def test_goal_distance_last_and_all_steps():
    z_goal = torch.zeros(B, P, D)
    z_pred = torch.zeros(B, N, H, P, D)
    z_pred[:, :, -1] = 2.0  # only the final step is off, by 2 in every entry
    actions = torch.zeros(B, N, H, A)
    assert torch.equal(GoalDistance("last")(z_pred, z_goal, actions), torch.full((B, N), 4.0))
    assert torch.equal(GoalDistance("all")(z_pred, z_goal, actions), torch.full((B, N), 1.0))


def test_goal_distance_matches_the_definition():
    generator = torch.Generator().manual_seed(0)
    z_pred = torch.randn(B, N, H, P, D, generator=generator)
    z_goal = torch.randn(B, P, D, generator=generator)
    actions = torch.zeros(B, N, H, A)
    expected = ((z_pred[:, :, -1] - z_goal[:, None]) ** 2).mean(dim=(-2, -1))
    assert torch.allclose(GoalDistance()(z_pred, z_goal, actions), expected)


def test_goal_distance_on_chosen_tokens():
    z_goal = torch.zeros(B, P, D)
    z_pred = torch.zeros(B, N, H, P, D)
    z_pred[..., -1, :] = 3.0  # only the last token (a proprio token) is off, by 3
    actions = torch.zeros(B, N, H, A)
    assert torch.equal(
        GoalDistance("last", tokens=[-1])(z_pred, z_goal, actions), torch.full((B, N), 9.0)
    )
    assert torch.equal(
        GoalDistance("all", tokens=[0, 1])(z_pred, z_goal, actions), torch.zeros(B, N)
    )
    assert torch.allclose(
        GoalDistance("last")(z_pred, z_goal, actions), torch.full((B, N), 9.0 / P)
    )
    with pytest.raises(ValueError, match="out of range"):
        GoalDistance(tokens=[P])(z_pred, z_goal, actions)
    with pytest.raises(ValueError, match="tokens"):
        GoalDistance(tokens=[])


def test_goal_distance_rejects_unknown_reduction():
    with pytest.raises(ValueError, match="reduction"):
        GoalDistance("first")


def test_weighted_sum_of_goal_distance_and_action_magnitude():
    z_pred = torch.ones(B, N, H, P, D)
    z_goal = torch.zeros(B, P, D)
    actions = torch.full((B, N, H, A), 0.5)
    cost = WeightedSum([(2.0, GoalDistance()), (4.0, ActionMagnitude())])
    assert torch.allclose(cost(z_pred, z_goal, actions), torch.full((B, N), 2.0 * 1 + 4.0 * 0.25))
    with pytest.raises(ValueError, match="terms"):
        WeightedSum([])
