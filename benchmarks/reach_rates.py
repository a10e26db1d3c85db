"""Reachability of the benchmark goals: scripted expert vs random policy, per environment.

For every environment, runs ``n_episodes`` benchmark episodes (reset seeds
``100000 + i``, the seeds ``wmplan-bench`` uses, disjoint from data collection),
each for the environment's registered budget, once with the scripted expert that
reads the true state and once with a uniform random policy, and reports the
share of episodes that end at the goal (``info["success"]`` at the last step) and
that touch it at some step. The expert proves the goals reachable within the
budget; the random rate shows how much the task needs planning.
Writes ``reach_rates.json`` (the rates) and ``results.json`` (every pair's outcome per
environment and policy, with the budget and seeds, as ``python -m benchmarks.results_report``
reads it) into the hydra run directory.
Run ``python -m benchmarks.reach_rates`` (``env_ids=[wmplan/Wall-v0]`` for one).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import gymnasium as gym
import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import envs
from benchmarks.episodes import BENCHMARK_SEED, reach_outcomes, reach_rates
from benchmarks.results_rows import policy_results

logger = logging.getLogger(__name__)


@hydra.main(config_path="conf", config_name="reach_rates", version_base="1.3")
def main(cfg: DictConfig) -> None:
    env_ids = list(cfg.env_ids) if cfg.env_ids else list(envs.ENV_IDS)
    outcomes = reach_outcomes(env_ids, cfg.n_episodes, cfg.workers)
    results = reach_rates(outcomes)
    lines = [
        "| environment | budget | expert final | expert any step | random final "
        "| random any step |",
        "|---|---|---|---|---|---|",
    ]
    for env_id, rates in results.items():
        budget = gym.spec(env_id).max_episode_steps
        e, r = rates["expert"], rates["random"]
        lines.append(
            f"| {env_id} | {budget} | {e['final']:.2f} | {e['any_step']:.2f} "
            f"| {r['final']:.2f} | {r['any_step']:.2f} |"
        )
    logger.info("%d benchmark episodes per environment and policy\n%s", cfg.n_episodes,
                "\n".join(lines))  # fmt: skip
    out = Path(HydraConfig.get().runtime.output_dir)
    (out / "reach_rates.json").write_text(
        json.dumps({"n_episodes": cfg.n_episodes, "rates": results}, indent=2)
    )
    (out / "results.json").write_text(
        json.dumps(policy_results(outcomes, BENCHMARK_SEED), indent=2)
    )


if __name__ == "__main__":
    main()
