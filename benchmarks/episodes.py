"""Benchmark episodes: environments stepped in lockstep by one batched controller."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from planner import MPCController


@dataclass
class RecordedEpisode:
    """An episode kept for videos: observations (T+1, H, W, 3) uint8 and their proprio
    (T+1, p), actions (T, A), goal (H, W, 3) uint8."""

    observations: list[np.ndarray]
    proprio: list[np.ndarray]
    actions: list[np.ndarray]
    goal: np.ndarray


def _stack(observations: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Observations of E environments -> {"pixels": (E, H, W, 3), "proprio": (E, p)}."""
    return {key: np.stack([o[key] for o in observations]) for key in ("pixels", "proprio")}


def run_batch(
    controller: MPCController,
    env_id: str,
    env_kwargs: dict,
    seeds: list[int],
    max_steps: int,
    record: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[RecordedEpisode]]:
    """Run episodes with the given seeds in lockstep, planning them as one batch.

    Returns:
        successes at the end (E,), whether the goal was reached at any step (E,), final
        distances (E,), and the first ``record`` episodes.
    """
    envs_ = [gym.make(env_id, **env_kwargs) for _ in seeds]
    resets = [env.reset(seed=seed) for env, seed in zip(envs_, seeds, strict=True)]
    obs = _stack([o for o, _ in resets])
    goals = _stack([info["goal_obs"] for _, info in resets])
    controller.reset(goals)
    recorded = [
        RecordedEpisode([obs["pixels"][i]], [obs["proprio"][i]], [], goals["pixels"][i])
        for i in range(record)
    ]
    infos = [info for _, info in resets]
    reached = np.zeros(len(seeds), dtype=bool)
    for _ in tqdm(range(max_steps), desc=f"episodes {seeds[0]}..{seeds[-1]}", unit="step"):
        actions = controller.act(obs)
        steps = [env.step(a) for env, a in zip(envs_, actions, strict=True)]
        obs = _stack([s[0] for s in steps])
        infos = [s[4] for s in steps]
        reached |= np.array([info["success"] for info in infos])
        for i, episode in enumerate(recorded):
            episode.actions.append(actions[i])
            episode.observations.append(obs["pixels"][i])
            episode.proprio.append(obs["proprio"][i])
    for env in envs_:
        env.close()
    success = np.array([info["success"] for info in infos])
    distance = np.array([info["distance"] for info in infos])
    return success, reached, distance, recorded
