"""Collect episodes from an environment into a trajectory dataset, in parallel processes.

Episode ``i`` is reset with seed ``seed + i`` and its policy draws from
``numpy.random.default_rng(seed + i)``, so its content depends on ``i`` alone:
a collection can be split over any number of worker processes, killed and
resumed (episodes already on disk are skipped) with the same result.
Each worker owns one environment and writes each finished episode atomically
as ``episode_{i:06d}.h5`` (see :mod:`envs.dataset`), with the environment's
``task_state`` beside every observation (for probes). The dataset's ``meta.json``
records the job's provenance (:meth:`CollectionJob.provenance`); a rerun into the
same directory with another policy, seed, episode length, control period or image
size is refused, so one dataset never mixes episodes of two collections by
accident. A policy mix is asked for (``extend``): the new job's episodes follow
the existing ones and ``meta.json`` lists each part with its first episode.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from envs.dataset import Episode, TrajectoryWriter, episode_path, write_episode
from envs.policies import POLICIES, make_policy


@dataclass(frozen=True)
class CollectionJob:
    """What every worker needs to collect episodes of one dataset; checks itself."""

    out_dir: str
    env_id: str
    episode_length: int
    seed: int = 0
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    policy: str = "persistent"
    hold_prob: float = 0.7
    noise: float = 0.3
    expert: dict[str, Any] = field(default_factory=dict)  # the scripted expert's own settings

    def __post_init__(self) -> None:
        if self.episode_length < 1:
            raise ValueError(f"episode_length must be >= 1, got {self.episode_length}")
        if self.policy not in POLICIES:
            raise ValueError(f"unknown policy {self.policy!r}; known: {', '.join(POLICIES)}")
        if self.env_id not in gym.registry:
            raise ValueError(f"unknown environment {self.env_id!r}; is `envs` imported?")

    def provenance(self, env: gym.Env) -> dict[str, Any]:
        """What produces the episodes, for ``meta.json``: episode ``i`` is seeded ``seed + i``,
        so the seeds of a dataset of E episodes are ``seed .. seed + E - 1``.

        Args:
            env: the job's environment (unwrapped), for its effective control period and
                image size.
        """
        return {
            "source": "wmplan-collect",
            "policy": self.policy,
            "hold_prob": self.hold_prob,
            "noise": self.noise,
            **({"expert": dict(self.expert)} if self.expert else {}),
            "seed": self.seed,
            "episode_length": self.episode_length,
            "control_dt": env.control_dt,
            "image_size": env.image_size,
        }


_worker: tuple[CollectionJob, gym.Env] | None = None  # this process's job and environment


def _worker_init(job: CollectionJob) -> None:
    global _worker
    import envs  # noqa: F401  (registers the environments in a spawned worker)

    _worker = job, gym.make(job.env_id, **job.env_kwargs).unwrapped


def run_episode(env: gym.Env, job: CollectionJob, index: int) -> Episode:
    """Roll out episode ``index`` of ``job`` in ``env`` (unwrapped, no time limit)."""
    rng = np.random.default_rng(job.seed + index)
    obs, _ = env.reset(seed=job.seed + index)
    policy = make_policy(job.policy, job.env_id, env, rng, job.hold_prob, job.noise, job.expert)
    observations, actions, states = [obs], [], [env.task_state()]
    for _ in range(job.episode_length):
        action = np.asarray(policy(obs), dtype=np.float32)
        obs, *_ = env.step(action)
        observations.append(obs)
        actions.append(action)
        states.append(env.task_state())
    return Episode(
        pixels=np.stack([o["pixels"] for o in observations]),
        proprio=np.stack([o["proprio"] for o in observations]).astype(np.float32),
        actions=np.stack(actions),
        states=np.stack(states),
    )


def _collect_one(index: int) -> int:
    assert _worker is not None, "worker not initialised"
    job, env = _worker
    write_episode(episode_path(job.out_dir, index), run_episode(env, job, index))
    return index


def collect(
    job: CollectionJob,
    n_episodes: int,
    workers: int = 1,
    progress: bool = True,
    extend: bool = False,
) -> int:
    """Collect episodes ``0 .. n_episodes-1`` of ``job`` that are not on disk yet.

    Args:
        job: dataset, environment, policy and seeds.
        n_episodes: episodes the dataset should hold afterwards.
        workers: processes stepping environments in parallel (1: in this process).
        progress: show a progress bar.
        extend: let a job of other settings add its episodes after those on disk, as the
            next part of a policy mix (`TrajectoryWriter`).

    Returns:
        The number of episodes in the dataset afterwards.
    """
    if n_episodes < 1 or workers < 1:
        raise ValueError(f"n_episodes and workers must be >= 1, got {n_episodes}, {workers}")
    env = gym.make(job.env_id, **job.env_kwargs).unwrapped
    provenance = job.provenance(env)
    env.close()
    TrajectoryWriter(job.out_dir, job.env_id, job.env_kwargs, provenance, extend)  # meta.json
    todo = [i for i in range(n_episodes) if not episode_path(job.out_dir, i).exists()]
    bar = tqdm(
        total=n_episodes, initial=n_episodes - len(todo), desc="collect", disable=not progress
    )
    if workers == 1:
        _worker_init(job)
        for i in todo:
            _collect_one(i)
            bar.update()
    elif todo:
        # spawn: a fresh interpreter per worker, no inherited MuJoCo/EGL state
        context = multiprocessing.get_context("spawn")
        with context.Pool(workers, initializer=_worker_init, initargs=(job,)) as pool:
            for _ in pool.imap_unordered(_collect_one, todo):
                bar.update()
    bar.close()
    return sum(episode_path(job.out_dir, i).exists() for i in range(n_episodes))
