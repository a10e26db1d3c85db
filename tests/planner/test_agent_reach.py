"""AgentReach: the agent's image point from the z-scored proprio token through the keypoint
encoder's agent map, its squared distance to the nearest kept keypoint, binding by name."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from planner.agent_reach import AgentReach
from planner.errors import EnergyError
from worldmodels.keypoint_encoder import KeypointEncoder

MEAN = torch.tensor([0.2, -0.4])
STD = torch.tensor([0.5, 2.0])
SCALE = 2.0
COORDS = 4.0  # the encoder's coordinate_scale


def _encoder(keep: list[int] | None = None) -> KeypointEncoder:
    """3 keypoints; the agent map puts its one point at the raw proprio (x, y) itself."""
    encoder = KeypointEncoder(n_keypoints=3, coordinate_scale=COORDS, keep=keep, proprio_dim=2)
    encoder.proprio_mean.copy_(torch.tensor([1.0, -1.0]))
    encoder.proprio_std.copy_(torch.tensor([0.5, 0.25]))
    with torch.no_grad():  # z-scored -> raw: identity on the raw proprio
        encoder.agent.weight.copy_(torch.diag(torch.tensor([0.5, 0.25])))
        encoder.agent.bias.copy_(torch.tensor([1.0, -1.0]))
    return encoder


def _model(encoder: KeypointEncoder) -> SimpleNamespace:
    return SimpleNamespace(encoder=encoder, proprio_dim=2, proprio_mean=MEAN, proprio_std=STD,
                           proprio_scale=SCALE)  # fmt: skip


def _latent(keypoints: torch.Tensor, agent: torch.Tensor) -> torch.Tensor:
    """(..., 2, D) states: token 0 the keypoints (..., K, 2) as the encoder writes them, token 1
    the proprio token of an agent at raw proprio ``agent`` (..., 2)."""
    token = keypoints.flatten(-2) * COORDS
    proprio = SCALE * (agent - MEAN) / STD
    proprio = torch.nn.functional.pad(proprio, (0, token.shape[-1] - 2))
    return torch.stack([token, proprio], -2)


def test_the_cost_is_the_squared_distance_from_the_agent_to_its_nearest_keypoint() -> None:
    cost = AgentReach("all").for_world_model(_model(_encoder()))
    keypoints = torch.tensor([[0.0, 0.0], [0.5, 0.5], [-0.9, 0.9]])
    # B=1, N=2, H=2: candidate 0 at (0.5, 0.2) then (-0.5, 0.5); candidate 1 on a keypoint
    agent = torch.tensor([[[[0.5, 0.2], [-0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]]]])
    z = _latent(keypoints.expand(1, 2, 2, 3, 2), agent)
    costs = cost(z, z[:, 0, 0], torch.zeros(1, 2, 2, 2))
    expected = torch.tensor([[(0.3**2 + (0.4**2 + 0.4**2)) / 2, 0.0]])
    torch.testing.assert_close(costs, expected, atol=1e-5, rtol=0)
    last = AgentReach("last").for_world_model(_model(_encoder()))
    torch.testing.assert_close(last(z, z[:, 0, 0], torch.zeros(1, 2, 2, 2)),
                               torch.tensor([[0.32, 0.0]]), atol=1e-5, rtol=0)  # fmt: skip


def test_keypoints_left_out_of_the_token_are_not_reached_for() -> None:
    cost = AgentReach("last").for_world_model(_model(_encoder(keep=[2])))
    z = _latent(torch.tensor([[[[[-0.9, 0.9]]]]]), torch.zeros(1, 1, 1, 2))  # the kept one only
    torch.testing.assert_close(cost(z, z[:, 0, 0], torch.zeros(1, 1, 1, 2)),
                               torch.tensor([[1.62]]), atol=1e-5, rtol=0)  # fmt: skip


def test_an_unbound_cost_and_models_without_an_agent_map_are_refused_by_name() -> None:
    z = _latent(torch.zeros(1, 1, 1, 3, 2), torch.zeros(1, 1, 1, 2))
    with pytest.raises(EnergyError, match="not bound to a world model"):
        AgentReach()(z, z[:, 0, 0], torch.zeros(1, 1, 1, 2))
    with pytest.raises(EnergyError, match="keypoint encoder with an agent map"):
        AgentReach().for_world_model(_model(KeypointEncoder(n_keypoints=3)))
    with pytest.raises(EnergyError, match="agent map reads 2 proprio values, the world model"):
        AgentReach().for_world_model(SimpleNamespace(encoder=_encoder(), proprio_dim=0))
    with pytest.raises(EnergyError, match="reduction must be"):
        AgentReach("max")  # type: ignore[arg-type]


def test_keypoints_limit_the_reach_to_the_chosen_ones() -> None:
    cost = AgentReach("last", keypoints=[2]).for_world_model(_model(_encoder()))
    keypoints = torch.tensor([[0.0, 0.0], [0.5, 0.5], [-0.9, 0.9]])
    z = _latent(keypoints.expand(1, 1, 1, 3, 2), torch.zeros(1, 1, 1, 2))  # agent on keypoint 0
    torch.testing.assert_close(cost(z, z[:, 0, 0], torch.zeros(1, 1, 1, 2)),
                               torch.tensor([[1.62]]), atol=1e-5, rtol=0)  # fmt: skip
    with pytest.raises(EnergyError, match=r"keypoints \[3\] out of range for a token of 3"):
        AgentReach(keypoints=[3]).for_world_model(_model(_encoder()))
    with pytest.raises(EnergyError, match="keypoints must be a non-empty list"):
        AgentReach(keypoints=[])
