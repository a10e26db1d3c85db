"""The benchmark tells the truth about its figures: a world model whose energy is NaN or inf
on the first plan is an error, not a success rate of 0.000 (issue 16)."""

import numpy as np
import pytest
import torch

from benchmarks.episodes import run_batch
from planner import MPCController, make_planner


class ConstantModel:
    """Encodes every frame to zeros (B, T, 1, 2); rolls out ``value`` everywhere."""

    device, proprio_dim, frameskip = torch.device("cpu"), 0, 1

    def __init__(self, value: float) -> None:
        self.value = value

    def encode(self, pixels, proprio=None):
        return torch.zeros(*pixels.shape[:2], 1, 2)

    def rollout(self, z_hist, actions, past_actions=None):
        return torch.full((*actions.shape[:3], 1, 2), self.value) + 0 * actions[..., None, :]


def controller(value: float) -> MPCController:
    planner = make_planner("cem", horizon=2, action_dim=2, n_samples=4, n_elites=2, n_iters=1)
    return MPCController(ConstantModel(value), planner, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_regression_non_finite_energy_on_the_first_plan_is_an_error(value):
    with pytest.raises(ValueError, match=r"NaN or inf for every candidate .* \[100000, 100001\]"):
        run_batch(controller(value), "wmplan/PointMaze-v0", {"image_size": 16},
                  [100000, 100001], max_steps=2, record=0)  # fmt: skip


def test_a_finite_energy_runs_the_episodes():
    success, reached, distance, _ = run_batch(
        controller(0.0), "wmplan/PointMaze-v0", {"image_size": 16}, [100000], 2, 0
    )
    assert success.shape == reached.shape == (1,) and np.isfinite(distance).all()
