"""LatentEnergy: the world-model energy, eager, in bf16 autocast and compiled, agree."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from planner import GoalDistance, LatentEnergy, MPCController, make_planner

HORIZON, ACTION_DIM, TOKENS, DIM = 5, 2, 4, 8


class LinearWorldModel(nn.Module):
    """z_{t+1} = z_t + W a_t on every token: a matrix multiply, so autocast changes it."""

    device = torch.device("cpu")

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(ACTION_DIM, DIM, bias=False)
        with torch.no_grad():
            self.proj.weight.copy_(torch.eye(DIM, ACTION_DIM) + 0.1)

    def rollout(self, z_hist: torch.Tensor, actions: torch.Tensor, past_actions=None):
        """(B, T, P, D), (B, N, H, A) -> (B, N, H, P, D); the last frame alone."""
        steps = self.proj(actions).cumsum(dim=2)  # (B, N, H, D)
        return z_hist[:, -1, None, None] + steps[:, :, :, None]


def problem(batch_size: int = 3):
    """Start and goal embeddings; the goal is reached by the final actions `target` (B, A)."""
    generator = torch.Generator().manual_seed(0)
    z_start = torch.randn(batch_size, 1, TOKENS, DIM, generator=generator)
    target = torch.rand(batch_size, ACTION_DIM, generator=generator) - 0.5
    world_model = LinearWorldModel()
    with torch.no_grad():
        z_goal = z_start[:, -1] + HORIZON * world_model.proj(target)[:, None]  # (B, P, D)
    return world_model, z_start, z_goal, target


def cem():
    return make_planner(
        "cem", horizon=HORIZON, action_dim=ACTION_DIM, n_samples=200, n_elites=20, n_iters=20
    )


def test_eager_energy_is_the_cost_of_the_rollout():
    world_model, z_start, z_goal, _ = problem()
    actions = torch.rand(3, 7, HORIZON, ACTION_DIM)
    cost = GoalDistance("all")
    expected = cost(world_model.rollout(z_start, actions), z_goal, actions)
    energy = LatentEnergy(world_model, cost).bind(z_start, z_goal)
    assert torch.equal(energy(actions), expected)


@pytest.mark.parametrize("options", [dict(bf16=True), dict(compile=True)])
def test_options_reach_the_same_known_optimum(options):
    # With the final step's goal distance, the constant sequence `target` is a minimiser
    # (energy 0); the plan's final embedding must land on the goal.
    world_model, z_start, z_goal, target = problem()
    with torch.no_grad():
        costs = {}
        for name, kwargs in {"fp32": {}, "option": options}.items():
            energy = LatentEnergy(world_model, GoalDistance("last"), **kwargs)
            result = cem().plan(
                energy.bind(z_start, z_goal), batch_size=3, generator=torch.Generator()
            )
            costs[name] = GoalDistance("last")(
                world_model.rollout(z_start, result.actions[:, None]), z_goal, result.actions
            )
    assert (costs["fp32"] < 1e-3).all()
    assert (costs["option"] < 1e-3).all()
    mean_action = result.actions.mean(dim=1)
    assert torch.allclose(mean_action, target, atol=0.05)


def test_bf16_ranks_world_model_candidates_like_fp32(bundled_world_model):
    world_model, z_start, z_goal = bundled_world_model
    actions = torch.rand(2, 64, HORIZON, ACTION_DIM, generator=torch.Generator().manual_seed(0))
    actions = 2 * actions - 1
    with torch.no_grad():
        fp32 = LatentEnergy(world_model, GoalDistance("all"))(z_start, z_goal, actions)
        bf16 = LatentEnergy(world_model, GoalDistance("all"), bf16=True)(z_start, z_goal, actions)
    assert bf16.dtype == torch.float32
    ranks = torch.stack([fp32.argsort(dim=1).argsort(dim=1), bf16.argsort(dim=1).argsort(dim=1)])
    for b in range(2):
        assert torch.corrcoef(ranks[:, b].float())[0, 1] > 0.95
    # The candidate bf16 picks is (nearly) the best by the fp32 energy.
    picked = fp32.gather(1, bf16.argmin(dim=1, keepdim=True))[:, 0]  # (B,)
    assert (picked <= 1.05 * fp32.min(dim=1).values).all()


@pytest.mark.slow
def test_compiled_world_model_energy_equals_eager(bundled_world_model):
    world_model, z_start, z_goal = bundled_world_model
    actions = 2 * torch.rand(2, 64, HORIZON, ACTION_DIM) - 1
    with torch.no_grad():
        eager = LatentEnergy(world_model, GoalDistance("all"))(z_start, z_goal, actions)
        compiled = LatentEnergy(world_model, GoalDistance("all"), compile=True)
        assert torch.allclose(compiled(z_start, z_goal, actions), eager, rtol=1e-4, atol=1e-6)


def test_controller_plans_with_the_options(bundled_world_model):
    world_model, _, _ = bundled_world_model
    planner = make_planner("cem", horizon=HORIZON, action_dim=2, n_samples=8, n_elites=2, n_iters=1)
    mpc = MPCController(world_model, planner, bf16=True)
    image = np.zeros((world_model.image_size, world_model.image_size, 3), dtype=np.uint8)
    mpc.reset(image)
    action = mpc.act(image)
    assert mpc.energy.bf16 and action.shape == (2,) and np.abs(action).max() <= 1.0
    assert torch.isfinite(mpc.last_result.cost).all()


@pytest.fixture(scope="module")
def bundled_world_model():
    """The bundled PointMaze model with two encoded start and goal images."""
    from benchmarks.maze_problems import encoded_problems
    from worldmodels.checkpoint import load_world_model

    root = Path(__file__).resolve().parents[2] / "worldmodels" / "assets" / "pointmaze"
    world_model = load_world_model(root)
    z_start, z_goal = encoded_problems(world_model, 2)
    return world_model, z_start, z_goal
