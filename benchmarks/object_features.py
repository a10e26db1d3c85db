"""The keypoints of a keypoint token that the task moves: those the goal displaces.

A keypoint encoder's token can keep keypoints that are not the task's object: points on the
static scene, and points the agent moves in ways its proprio does not predict (Cube's encoder
keeps one that jumps whenever the arm leaves home). The goal image shows the agent at rest, so
a goal distance over every keypoint charges a plan for moving the agent mid-task: on Cube it
ranks the scripted expert's first 12 steps (the cube picked and carried) below doing nothing.
The keypoints the task moves are those the goal displaces: over environment resets (start and
goal images, both with the agent at rest), each keypoint's mean squared image displacement
from the start to the goal; a keypoint counts when it moves at least a share of the
most-displaced one. No labels and no policy. `planner.energy.GoalDistance` scores them through
its ``features``; ``python -m benchmarks.object_keypoints`` prints them.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

import envs  # noqa: F401  (registers the environments)
from benchmarks.episodes import stack_observations
from planner.observation import encode_observation
from worldmodels.keypoint_encoder import KeypointEncoder
from worldmodels.world_model import WorldModel


def goal_displacements(world_model: WorldModel, env_id: str, seeds: list[int]) -> np.ndarray:
    """(K',) mean over resets of each kept keypoint's squared image displacement (coordinates
    in [-1, 1]) from the start image to the goal image.

    Raises:
        ValueError: the world model's encoder is not a keypoint encoder.
    """
    encoder = world_model.encoder
    if not isinstance(encoder, KeypointEncoder):
        raise ValueError(
            f"object keypoints need a keypoint encoder (worldmodels.keypoint_encoder), got "
            f"{type(encoder).__name__}"
        )
    env = gym.make(env_id)
    starts, goals = [], []
    for seed in seeds:
        obs, info = env.reset(seed=seed)
        starts.append(obs)
        goals.append(info["goal_obs"])
    env.close()
    points = []
    for observations in (starts, goals):
        batch = stack_observations(observations)
        pixels = torch.as_tensor(batch["pixels"], device=world_model.device)
        with torch.no_grad():
            z = encode_observation(world_model, pixels, batch)[:, -1, 0]  # (B, D)
        points.append(encoder.token_points(z).cpu().double())
    return (points[0] - points[1]).square().sum(-1).mean(0).numpy()


def object_features(displacements: np.ndarray, share: float) -> list[int]:
    """Token dimensions (x, y of each keypoint moved at least ``share`` of the most).

    Raises:
        ValueError: ``share`` outside (0, 1], or no keypoint moves.
    """
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    if not displacements.max() > 0:
        raise ValueError("no keypoint moves between the starts and the goals")
    moved = np.flatnonzero(displacements >= share * displacements.max())
    return [int(d) for k in moved for d in (2 * k, 2 * k + 1)]
