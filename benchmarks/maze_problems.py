"""PointMaze as the planner benchmarks see it: seeded problems encoded by a world model."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

import envs  # noqa: F401  (registers the environments)
from worldmodels.world_model import WorldModel

ENV_ID = "wmplan/PointMaze-v0"
FIRST_SEED = 200_000  # reset seed of the first problem


def encoded_problems(world_model: WorldModel, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Start and goal tokens of ``batch_size`` seeded maze problems.

    Args:
        world_model: encodes the start and goal images (rendered at its image size).
        batch_size: B, problems; reset seeds ``FIRST_SEED + i``.

    Returns:
        z_start (B, 1, P, D) and z_goal (B, P, D).
    """
    env = gym.make(ENV_ID, image_size=world_model.image_size)
    starts, goals = [], []
    for seed in range(batch_size):
        obs, info = env.reset(seed=FIRST_SEED + seed)
        starts.append(obs["pixels"])
        goals.append(info["goal_obs"]["pixels"])
    with torch.no_grad():
        z_start = world_model.encode(torch.from_numpy(np.stack(starts))[:, None])
        z_goal = world_model.encode(torch.from_numpy(np.stack(goals))[:, None])[:, 0]
    return z_start, z_goal
