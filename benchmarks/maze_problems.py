"""PointMaze as the planner benchmarks see it: seeded problems encoded by a world model, and
the world model's energy landscape over ball positions."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

import envs  # noqa: F401  (registers the environments)
from envs.point_maze import PointMazeEnv, is_free
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


def energy_ranks(
    world_model: WorldModel, env: PointMazeEnv, goal: np.ndarray, xs: np.ndarray
) -> np.ndarray:
    """Rank (0 = lowest energy, 1 = highest) of each grid position; NaN inside walls.

    Returns:
        (n, n) array, rows from top (high y) to bottom.
    """
    points = [np.array([x, y]) for y in xs[::-1] for x in xs]
    free = np.array([is_free(p) for p in points])
    pixels = np.stack(
        [env.observation_at(p)["pixels"] for p, ok in zip(points, free, strict=True) if ok]
    )
    with torch.no_grad():
        z = world_model.encode(torch.from_numpy(pixels)[:, None])[:, 0]  # (F, P, D)
        z_goal = world_model.encode(
            torch.from_numpy(env.observation_at(goal)["pixels"])[None, None]
        )
    energy = (z - z_goal[:, 0]).square().mean(dim=(1, 2)).numpy()
    ranks = np.full(len(points), np.nan)
    ranks[free] = energy.argsort().argsort() / max(1, len(energy) - 1)
    return ranks.reshape(len(xs), len(xs))
