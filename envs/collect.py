"""Collect episodes from an environment into a trajectory dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from envs.dataset import TrajectoryWriter, episode_files
from envs.policies import PersistentRandomPolicy


def collect(
    out_dir: str | Path,
    env_id: str,
    n_episodes: int,
    episode_length: int,
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
    hold_prob: float = 0.7,
    progress: bool = True,
) -> int:
    """Roll out an exploration policy and write each finished episode to ``out_dir``.

    Episode ``i`` is reset with seed ``seed + i``, so a collection can be
    resumed: episodes already on disk are skipped. Returns the number of
    episodes in the dataset afterwards.
    """
    if n_episodes < 1 or episode_length < 1:
        raise ValueError(
            f"n_episodes and episode_length must be >= 1, got {n_episodes}, {episode_length}"
        )
    env_kwargs = dict(env_kwargs or {})
    writer = TrajectoryWriter(out_dir, env_id=env_id, env_kwargs=env_kwargs)
    done = len(episode_files(out_dir))
    env = gym.make(env_id, **env_kwargs)
    space = env.action_space
    for i in tqdm(
        range(done, n_episodes),
        desc="collect",
        disable=not progress,
        initial=done,
        total=n_episodes,
    ):
        policy = PersistentRandomPolicy(
            space.low, space.high, hold_prob, np.random.default_rng(seed + i)
        )
        obs, _ = env.reset(seed=seed + i)
        for _ in range(episode_length):
            action = policy(obs)
            writer.append(obs, action)
            obs, *_ = env.step(action)
        writer.end_episode(obs)
    env.close()
    return len(episode_files(out_dir))
