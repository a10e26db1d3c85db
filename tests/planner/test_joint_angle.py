"""JointAngleDistance: the angle of a limited joint read back exactly from a z-scored proprio
token, the long way round a joint limit, and binding through LatentEnergy."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from planner.energy import GoalDistance, WeightedSum
from planner.errors import EnergyError
from planner.joint_angle import JointAngleDistance
from planner.latent_energy import LatentEnergy

MEAN = torch.tensor([0.3, -0.1, 0.12, 0.02, 0.0, 0.0])
STD = torch.tensor([0.7, 0.6, 0.65, 0.72, 2.0, 3.0])
SCALE = 1.5
D = 8  # token width; the proprio token is the last of P = 3 tokens


def _model(rollout=None) -> SimpleNamespace:
    return SimpleNamespace(
        proprio_dim=6,
        proprio_mean=MEAN,
        proprio_std=STD,
        proprio_scale=SCALE,
        device=torch.device("cpu"),
        rollout=rollout,
    )


def _latent(q1: torch.Tensor, q2: torch.Tensor) -> torch.Tensor:
    """(..., 3, D) latent states whose proprio token encodes joint angles q1, q2 (...,)."""
    raw = torch.stack([q1.cos(), q1.sin(), q2.cos(), q2.sin(), 0 * q1, 0 * q1], dim=-1)
    token = SCALE * (raw - MEAN) / STD
    z = torch.randn(*q1.shape, 3, D)
    z[..., -1, :] = torch.nn.functional.pad(token, (0, D - 6))
    return z


def test_angle_is_read_back_exactly_from_the_z_scored_token() -> None:
    cost = JointAngleDistance(cos_entry=2, sin_entry=3).for_world_model(_model())
    q2 = torch.linspace(-2.8, 2.8, 29)
    torch.testing.assert_close(cost.angle(_latent(torch.zeros(29), q2)), q2, atol=1e-5, rtol=0)


def test_distance_goes_the_long_way_round_a_limit_and_mean_over_steps() -> None:
    cost = JointAngleDistance(2, 3, reduction="all").for_world_model(_model())
    # B=1, N=2 candidates, H=2 steps; goal q2 = -2.7, candidates at q2 = 2.7 then 2.75 / 0 then 0.
    q2 = torch.tensor([[[2.7, 2.75], [0.0, 0.0]]])
    z_pred = _latent(torch.zeros_like(q2), q2)  # (1, 2, 2, 3, D)
    z_goal = _latent(torch.zeros(1), torch.tensor([-2.7]))  # (1, 3, D)
    costs = cost(z_pred, z_goal, torch.zeros(1, 2, 2, 2))
    expected = torch.tensor([[(5.4**2 + 5.45**2) / 2, 2.7**2]])
    torch.testing.assert_close(costs, expected, atol=1e-4, rtol=0)
    # the chord on (cos, sin) calls the first candidate the closer one; the angle does not
    chord = GoalDistance("all", tokens=[-1])(z_pred, z_goal, torch.zeros(1, 2, 2, 2))
    assert chord[0, 0] < chord[0, 1] and costs[0, 0] > costs[0, 1]
    last = JointAngleDistance(2, 3, reduction="last").for_world_model(_model())
    torch.testing.assert_close(
        last(z_pred, z_goal, torch.zeros(1, 2, 2, 2)),
        torch.tensor([[5.45**2, 2.7**2]]),
        atol=1e-4,
        rtol=0,
    )


def test_latent_energy_binds_terms_inside_a_weighted_sum() -> None:
    def rollout(z_hist, actions, past_actions=None):  # every step at q2 = 1.0
        B, N, H, _ = actions.shape
        return _latent(torch.zeros(B, N, H), torch.full((B, N, H), 1.0))

    cost = WeightedSum([(3.0, JointAngleDistance(2, 3))])
    energy = LatentEnergy(_model(rollout), cost)
    z_goal = _latent(torch.zeros(2), torch.tensor([-1.0, 0.5]))
    costs = energy(torch.zeros(2, 1, 3, D), z_goal, torch.zeros(2, 4, 3, 2))
    torch.testing.assert_close(costs, torch.tensor([[12.0] * 4, [0.75] * 4]), atol=1e-4, rtol=0)


def test_unbound_cost_and_bad_arguments_are_named() -> None:
    z = _latent(torch.zeros(1, 1, 1), torch.zeros(1, 1, 1))
    with pytest.raises(EnergyError, match="not bound to a world model"):
        JointAngleDistance(2, 3)(z, z[:, 0, 0], torch.zeros(1, 1, 1, 2))
    with pytest.raises(EnergyError, match="takes 0 proprioceptive values"):
        JointAngleDistance(2, 3).for_world_model(SimpleNamespace(proprio_dim=0))
    with pytest.raises(EnergyError, match="entries \\[2, 6\\]"):
        JointAngleDistance(2, 6).for_world_model(_model())
    with pytest.raises(EnergyError, match="sin_entry must be an integer >= 0, got -1"):
        JointAngleDistance(2, -1)
    with pytest.raises(EnergyError, match="must differ"):
        JointAngleDistance(2, 2)
    with pytest.raises(EnergyError, match="reduction must be"):
        JointAngleDistance(2, 3, reduction="max")  # type: ignore[arg-type]
