"""Episodes driven by a world model's planner, as a dataset: ``wmplan-collect-planned
env_id=... world_model=... out=DIR`` (``python -m benchmarks.collect_planned``).

A model trained on scripted data is wrong where its planner goes and the data never went (the
planner finds those errors: `benchmarks.model_exploitation`). Episodes planned by the model
itself, added to its data, put the training signal there (DAgger for models, Ross and Bagnell,
"Agnostic System Identification for Model-Based Reinforcement Learning", ICML 2012; the data
loop of PETS and Dyna). Episodes are planned in batches of ``batch_size`` (as ``wmplan-bench``
does) and written after each batch; a rerun resumes after the last finished episode.
"""

from __future__ import annotations

import logging

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

import envs  # noqa: F401  (registers the environments)
from benchmarks.episodes import BENCHMARK_SEED, RecordedEpisode, run_batch
from benchmarks.planning_defaults import user_override_keys
from benchmarks.planning_setup import make_controller, planning_setup
from envs.dataset import TrajectoryWriter, part_size

logger = logging.getLogger(__name__)


def write(writer: TrajectoryWriter, episode: RecordedEpisode) -> None:
    """One recorded episode into the dataset."""
    steps = zip(episode.observations[:-1], episode.proprio[:-1], episode.actions,
                episode.states[:-1], strict=True)  # fmt: skip
    for pixels, proprio, action, state in steps:
        writer.append({"pixels": pixels, "proprio": proprio}, action, state)
    final = {"pixels": episode.observations[-1], "proprio": episode.proprio[-1]}
    writer.end_episode(final, episode.states[-1])


@hydra.main(config_path="conf", config_name="collect_planned", version_base="1.3")
def main(cfg: DictConfig) -> int:
    if cfg.n_episodes < 1 or cfg.episode_length < 1 or cfg.batch_size < 1:
        raise ValueError(
            "n_episodes, episode_length and batch_size must be >= 1, got "
            f"{cfg.n_episodes}, {cfg.episode_length}, {cfg.batch_size}"
        )
    if cfg.seed < 0 or cfg.seed + cfg.n_episodes > BENCHMARK_SEED:
        raise ValueError(
            f"reset seeds {cfg.seed}..{cfg.seed + cfg.n_episodes - 1} must lie in "
            f"0..{BENCHMARK_SEED - 1}: the benchmark's pairs start at {BENCHMARK_SEED}"
        )
    setup = planning_setup(cfg, user_override_keys(HydraConfig.get().overrides.task))
    env_kwargs = OmegaConf.to_container(setup.cfg.env_kwargs)
    provenance = {
        "source": "benchmarks.collect_planned",
        "world_model": str(setup.world_model_path),
        "planner": OmegaConf.to_container(setup.cfg.planner),
        "controller": OmegaConf.to_container(setup.cfg.controller),
        "seed": cfg.seed,
        "episode_length": cfg.episode_length,
    }
    writer = TrajectoryWriter(cfg.out, cfg.env_id, env_kwargs, provenance, cfg.extend)
    done = part_size(cfg.out, provenance)
    successes = []
    for start in range(done, cfg.n_episodes, cfg.batch_size):
        stop = min(start + cfg.batch_size, cfg.n_episodes)
        seeds = list(range(cfg.seed + start, cfg.seed + stop))
        generator = torch.Generator(device=setup.cfg.device).manual_seed(seeds[0])
        controller = make_controller(setup, generator)
        success, _, _, episodes = run_batch(
            controller, cfg.env_id, env_kwargs, seeds, cfg.episode_length, len(seeds)
        )
        for episode in episodes:
            write(writer, episode)
        successes.append(success)
    rate = float(np.concatenate(successes).mean()) if successes else float("nan")
    total = part_size(cfg.out, provenance)
    logger.info("%s holds %d planned episodes (%d new, success %.2f)", cfg.out, total,
                cfg.n_episodes - done, rate)  # fmt: skip
    return cfg.n_episodes - done


if __name__ == "__main__":
    main()
