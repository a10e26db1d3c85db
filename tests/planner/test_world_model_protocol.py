"""The planner's world-model Protocols state the whole surface it uses.

A hand-written model with only the Protocol's members (device, proprio_dim, frameskip, encode,
rollout) plans through `MPCController` to a known answer: its latent is the position of a point
that moves by the action, x_{t+1} = x_t + a_t, so the controller must bring the point to the
goal.
Every attribute the controller and its energy read is recorded and must be a Protocol member.
The implementation, ``worldmodels.WorldModel``, satisfies the Protocol too.
"""

import inspect

import numpy as np
import pytest
import torch

from planner import LatentDynamics, MPCController, PlanningWorldModel, make_planner
from worldmodels import WorldModel
from worldmodels.predictor import LatentPredictor, PredictorConfig
from worldmodels.vit import DinoVisionTransformer

PROTOCOL_MEMBERS = {"device", "proprio_dim", "frameskip", "encode", "rollout"}
SIZE, LEVELS_PER_UNIT = 4, 20.0


class MinimalWorldModel:
    """Only the Protocol's members. The position is in pixel (0, 0) (grey level 128 is the
    origin, 20 levels per unit), or in the proprioception when ``proprio_dim`` is 2."""

    def __init__(self, proprio_dim: int) -> None:
        self._proprio_dim = proprio_dim
        self.accessed: set[str] = set()  # filled by __getattribute__

    def __getattribute__(self, name: str):
        if not name.startswith("_") and name != "accessed":
            object.__getattribute__(self, "accessed").add(name)
        return object.__getattribute__(self, name)

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def proprio_dim(self) -> int:
        return self._proprio_dim

    @property
    def frameskip(self) -> int:
        return 1

    def encode(self, pixels: torch.Tensor, proprio: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, H, W, 3) uint8 [, (B, T, 2)] -> (B, T, 1, 2) positions."""
        if self._proprio_dim:
            return proprio[:, :, None].float()
        return ((pixels[..., 0, 0, :2].float() - 128) / LEVELS_PER_UNIT)[:, :, None]

    def rollout(self, z_hist, actions, past_actions=None) -> torch.Tensor:
        """(B, T, 1, 2), (B, N, H, 2) -> (B, N, H, 1, 2): the actions integrated."""
        return z_hist[:, -1, None, None] + actions.cumsum(dim=2)[..., None, :]


def observation(position: np.ndarray, proprio_dim: int) -> dict[str, np.ndarray]:
    """The observation of a point at position (2,): its image, and its proprio if taken."""
    pixels = np.zeros((SIZE, SIZE, 3), np.uint8)
    if proprio_dim:
        return {"pixels": pixels, "proprio": position.astype(np.float32)}
    pixels[0, 0, :2] = np.round(position * LEVELS_PER_UNIT + 128)
    return {"pixels": pixels}


@pytest.mark.parametrize("proprio_dim", [0, 2])
def test_a_model_with_only_the_protocol_plans_to_the_goal(proprio_dim):
    model = MinimalWorldModel(proprio_dim)
    assert isinstance(model, PlanningWorldModel)
    model.accessed.clear()
    planner = make_planner(
        "cem", horizon=4, action_dim=2, low=-0.5, high=0.5, n_samples=100, n_elites=10
    )
    mpc = MPCController(model, planner, generator=torch.Generator().manual_seed(0))
    goal, position = np.array([1.5, -1.0]), np.zeros(2)
    mpc.reset(observation(goal, proprio_dim))
    for _ in range(8):
        position = position + mpc.act(observation(position, proprio_dim))
    # Tolerance: CEM's sampling noise on the last small corrections, plus 0.025 quantisation.
    assert np.linalg.norm(goal - position) < 0.15
    assert model.accessed == PROTOCOL_MEMBERS


def tiny_world_model() -> WorldModel:
    encoder = DinoVisionTransformer(img_size=16, patch_size=8, embed_dim=8, depth=1, num_heads=2)
    predictor = LatentPredictor(
        PredictorConfig(token_dim=8, n_tokens=4, action_dim=2, dim=8, depth=1, num_heads=2)
    )
    return WorldModel(
        encoder=encoder,
        predictor=predictor,
        image_size=16,
        pool=1,
        num_hist=1,
        action_mean=torch.zeros(2),
        action_std=torch.ones(2),
    )


def test_the_implementation_satisfies_the_protocols():
    world_model = tiny_world_model()
    assert isinstance(world_model, PlanningWorldModel)
    assert isinstance(world_model, LatentDynamics)
    # Every call the Protocol allows binds to the implementation's methods.
    for name in ("encode", "rollout"):
        protocol = inspect.signature(getattr(PlanningWorldModel, name))
        implementation = inspect.signature(getattr(WorldModel, name))
        arguments = [p.name for p in protocol.parameters.values()]
        implementation.bind(*arguments)  # positionally
        implementation.bind(arguments[0], **{a: a for a in arguments[1:]})  # by keyword
