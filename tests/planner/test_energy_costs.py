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


def test_goal_distance_on_chosen_features_of_the_chosen_tokens():
    z_goal = torch.zeros(B, P, D)
    z_pred = torch.zeros(B, N, H, P, D)
    z_pred[..., 0, 1] = 2.0  # token 0, feature 1: off by 2
    z_pred[..., 0, 3] = 4.0  # token 0, feature 3: off by 4 (left out below)
    z_pred[..., 1, 1] = 8.0  # token 1, feature 1: another token, left out
    actions = torch.zeros(B, N, H, A)
    cost = GoalDistance("last", tokens=[0], features=[0, 1])(z_pred, z_goal, actions)
    assert torch.equal(cost, torch.full((B, N), 2.0))  # (0 + 4) / 2
    with pytest.raises(ValueError, match="features \\[6\\] out of range for dimension 6"):
        GoalDistance(features=[D])(z_pred, z_goal, actions)
    with pytest.raises(ValueError, match="features must be a non-empty list"):
        GoalDistance(features=[-1])


def test_a_saturated_distance_counts_the_steps_away_from_the_goal():
    # Two candidates over H = 4 steps with per-step distances (squared offsets):
    # a detour 9, 16, 1, 0 (away, then arrives) and a wait at the wall 4, 4, 4, 4.
    # Plain mean: 6.5 against 4 (the wait wins); capped at 1: (1 + 1 + 1 + 0) / 4 = 0.75
    # against 1 (the detour wins).
    offsets = torch.tensor([[3.0, 4.0, 1.0, 0.0], [2.0, 2.0, 2.0, 2.0]])  # (N=2, H)
    z_pred = offsets[None, :, :, None, None].expand(1, 2, 4, P, D)
    z_goal, actions = torch.zeros(1, P, D), torch.zeros(1, 2, 4, A)
    plain = GoalDistance("all")(z_pred, z_goal, actions)
    capped = GoalDistance("all", saturation=1.0)(z_pred, z_goal, actions)
    torch.testing.assert_close(plain, torch.tensor([[6.5, 4.0]]))
    torch.testing.assert_close(capped, torch.tensor([[0.75, 1.0]]))
    with pytest.raises(ValueError, match="saturation"):
        GoalDistance("all", saturation=0.0)


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
