"""Benchmark episodes: environments stepped in lockstep by one batched controller, random-policy
episodes for videos, and the reach rates of the scripted expert and the random policy."""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import gymnasium as gym
import numpy as np
import torch
from tqdm import tqdm

from envs.policies import UniformRandomPolicy, episode_outcome
from planner import MPCController

if TYPE_CHECKING:  # a hint only: simulator_dynamics imports this module
    from benchmarks.simulator_dynamics import SimulatorDynamics

BENCHMARK_SEED = 100000  # first reset seed of wmplan-bench's episodes


def pair_seeds(seed: int, n_episodes: int, seeds: Sequence[int] | None) -> list[int]:
    """The pairs' reset seeds: ``seeds`` when given, else ``seed .. seed + n_episodes - 1``.

    Raises:
        ValueError: on an empty or repeated explicit list, or one holding a non-integer.
    """
    if seeds is None:
        return [seed + i for i in range(n_episodes)]
    listed = list(seeds)
    if not listed or any(not isinstance(s, int) or isinstance(s, bool) for s in listed):
        raise ValueError(f"seeds must be a non-empty list of integers, got {listed!r}")
    if len(set(listed)) != len(listed):
        raise ValueError(f"seeds must not repeat, got {listed!r}")
    return listed


@dataclass
class RecordedEpisode:
    """An episode kept for videos and datasets: observations (T+1, H, W, 3) uint8 and their
    proprio (T+1, p), actions (T, A), goal (H, W, 3) uint8, the task's true states (T+1, s)."""

    observations: list[np.ndarray]
    proprio: list[np.ndarray]
    actions: list[np.ndarray]
    goal: np.ndarray
    states: list[np.ndarray]

    def blocks(self, frameskip: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The episode as a world model with frame skip K sees it: every K-th observation and
        the blocks of K actions between them (a last partial block is dropped). The episode
        has at least one action.

        Returns:
            observations (n+1, H, W, 3) uint8, their proprio (n+1, p), and actions
            (n, K * A), time-major within a block; n = T // K.
        """
        n = len(self.actions) // frameskip
        observations = np.stack(self.observations[: n * frameskip + 1 : frameskip])
        proprio = np.stack(self.proprio[: n * frameskip + 1 : frameskip])
        block_dim = frameskip * self.actions[0].shape[-1]
        actions = np.reshape(self.actions[: n * frameskip], (n, block_dim))  # (n, K*A)
        return observations, proprio, actions


def stack_observations(observations: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Observations of E environments -> {"pixels": (E, H, W, 3), "proprio": (E, p)}."""
    return {key: np.stack([o[key] for o in observations]) for key in ("pixels", "proprio")}


def _check_first_plan(controller: MPCController, seeds: list[int]) -> None:
    """Raise a ValueError naming the episodes whose first plan found no candidate of finite
    energy: the world model or the cost gives NaN or inf, and any success figure would be a
    figure of unplanned actions."""
    unplanned = ~torch.isfinite(controller.last_result.cost.cpu())  # (B,)
    if unplanned.any():
        bad = [seed for seed, u in zip(seeds, unplanned.tolist(), strict=True) if u]
        raise ValueError(
            f"the energy is NaN or inf for every candidate of the first plan of episodes (seeds) "
            f"{bad}: the world model's rollout or the cost is not finite on these inputs; check "
            "the checkpoint (its statistics and weights) and the cost"
        )


def run_batch(
    controller: MPCController,
    env_id: str,
    env_kwargs: dict,
    seeds: list[int],
    max_steps: int,
    record: int,
    simulator: SimulatorDynamics | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[RecordedEpisode]]:
    """Run episodes with the given seeds in lockstep, planning them as one batch.

    With ``simulator`` (the controller's dynamics), the batch's environments are bound to it:
    the controller plans in the environments' own physics.

    Returns:
        successes at the end (E,), whether the goal was reached at any step (E,), final
        distances (E,), and the first ``record`` episodes.
    """
    envs_ = [gym.make(env_id, **env_kwargs) for _ in seeds]
    resets = [env.reset(seed=seed) for env, seed in zip(envs_, seeds, strict=True)]
    if simulator is not None:
        simulator.bind([env.unwrapped for env in envs_])
    obs = stack_observations([o for o, _ in resets])
    goals = stack_observations([info["goal_obs"] for _, info in resets])
    controller.reset(goals)
    recorded = [
        RecordedEpisode(
            [obs["pixels"][i]],
            [obs["proprio"][i]],
            [],
            goals["pixels"][i],
            [envs_[i].unwrapped.task_state()],
        )
        for i in range(record)
    ]
    infos = [info for _, info in resets]
    reached = np.zeros(len(seeds), dtype=bool)
    for step in tqdm(range(max_steps), desc=f"episodes {seeds[0]}..{seeds[-1]}", unit="step"):
        actions = controller.act(obs)
        if step == 0:
            _check_first_plan(controller, seeds)
        steps = [env.step(a) for env, a in zip(envs_, actions, strict=True)]
        obs = stack_observations([s[0] for s in steps])
        infos = [s[4] for s in steps]
        reached |= np.array([info["success"] for info in infos])
        for i, episode in enumerate(recorded):
            episode.actions.append(actions[i])
            episode.observations.append(obs["pixels"][i])
            episode.proprio.append(obs["proprio"][i])
            episode.states.append(envs_[i].unwrapped.task_state())
    for env in envs_:
        env.close()
    success = np.array([info["success"] for info in infos])
    distance = np.array([info["distance"] for info in infos])
    return success, reached, distance, recorded


def random_episode_frames(env_id: str, n_steps: int, seed: int) -> list[np.ndarray]:
    """Frames (S, 2S, 3) uint8: each observation beside the goal image."""
    env = gym.make(env_id)
    obs, info = env.reset(seed=seed)
    goal = info["goal_obs"]["pixels"]
    policy = UniformRandomPolicy(
        env.action_space.low, env.action_space.high, np.random.default_rng(seed)
    )
    frames = [np.concatenate([obs["pixels"], goal], axis=1)]
    for _ in range(n_steps):
        obs, *_ = env.step(policy(obs))
        frames.append(np.concatenate([obs["pixels"], goal], axis=1))
    env.close()
    return frames


def reach_outcomes(
    env_ids: list[str], n_episodes: int, workers: int
) -> dict[str, dict[str, list[tuple[bool, bool]]]]:
    """Scripted expert and random policy on the benchmark pairs, one budget-long episode each.

    Args:
        env_ids: registered ids; each episode lasts the id's registered step budget.
        n_episodes: pairs per environment, reset seeds ``BENCHMARK_SEED + i``.
        workers: processes stepping the episodes.

    Returns:
        ``{env_id: {policy: [(success at the last step, success at any step)] * n_episodes}}``
        for the policies ``expert`` and ``random``, in seed order.
    """
    tasks = [
        (env_id, policy, BENCHMARK_SEED + i)
        for env_id in env_ids
        for policy in ("expert", "random")
        for i in range(n_episodes)
    ]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        outcomes = pool.starmap(episode_outcome, tasks, chunksize=max(1, n_episodes // 4))
    results: dict[str, dict[str, list[tuple[bool, bool]]]] = {}
    for (env_id, policy, _), outcome in zip(tasks, outcomes, strict=True):
        results.setdefault(env_id, {}).setdefault(policy, []).append(outcome)
    return results


def reach_rates(
    outcomes: dict[str, dict[str, list[tuple[bool, bool]]]],
) -> dict[str, dict[str, dict[str, float]]]:
    """``{env_id: {policy: {"final": rate, "any_step": rate}}}`` from ``reach_outcomes``."""
    return {
        env_id: {
            policy: {
                "final": sum(final for final, _ in episodes) / len(episodes),
                "any_step": sum(touched for _, touched in episodes) / len(episodes),
            }
            for policy, episodes in by_policy.items()
        }
        for env_id, by_policy in outcomes.items()
    }
