"""Collection throughput per environment: one process against parallel worker processes.

For every environment, collects ``n_episodes`` episodes of ``episode_length``
steps with the persistent random policy through :func:`envs.collect.collect`
(stepping, rendering, writing the HDF5 files), once with one worker and once
with ``workers`` processes, into temporary directories. Reports environment
steps per second and rendered frames per second (every step renders the
observation; each reset renders the start and goal images), and the parallel
speed-up. Worker start-up (a fresh interpreter each) is included, as a user
pays it. Writes ``collect_speed.json`` into the hydra run directory.
Run ``python -m benchmarks.collect_speed``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import envs
from benchmarks.speed import collection_rate

logger = logging.getLogger(__name__)


@hydra.main(config_path="conf", config_name="collect_speed", version_base="1.3")
def main(cfg: DictConfig) -> None:
    env_ids = list(cfg.env_ids) if cfg.env_ids else list(envs.ENV_IDS)
    results = {}
    lines = [
        f"| environment | 1 process steps/s | {cfg.workers} workers steps/s "
        "| frames/s (1 / N) | speed-up |",
        "|---|---|---|---|---|",
    ]
    for env_id in env_ids:
        single = collection_rate(env_id, cfg.n_episodes, cfg.episode_length, 1)
        parallel = collection_rate(env_id, cfg.n_episodes, cfg.episode_length, cfg.workers)
        speedup = parallel["steps_per_s"] / single["steps_per_s"]
        results[env_id] = {"single": single, "parallel": parallel, "speedup": speedup}
        lines.append(
            f"| {env_id} | {single['steps_per_s']:.0f} | {parallel['steps_per_s']:.0f} "
            f"| {single['frames_per_s']:.0f} / {parallel['frames_per_s']:.0f} | {speedup:.2f}x |"
        )
        logger.info("%s: %s", env_id, results[env_id])
    logger.info(
        "%d episodes of %d steps, persistent random policy\n%s",
        cfg.n_episodes,
        cfg.episode_length,
        "\n".join(lines),
    )
    out = Path(HydraConfig.get().runtime.output_dir) / "collect_speed.json"
    out.write_text(json.dumps({"config": dict(cfg), "results": results}, indent=2, default=str))


if __name__ == "__main__":
    main()
