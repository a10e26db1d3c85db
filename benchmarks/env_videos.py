"""A short video per environment: a random-policy episode beside the goal image.

For every environment, resets with the first benchmark seed (100000), runs the
uniform random policy for ``n_steps`` steps and writes ``<env name>.mp4`` (the
observation on the left, the environment's goal image on the right, upscaled
for viewing) into ``out`` (default: the hydra run directory).
Run ``python -m benchmarks.env_videos`` (``out=docs/videos`` to keep them).
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import envs
from benchmarks.episodes import random_episode_frames
from benchmarks.videos import write_video

logger = logging.getLogger(__name__)


@hydra.main(config_path="conf", config_name="env_videos", version_base="1.3")
def main(cfg: DictConfig) -> None:
    out = Path(cfg.out or HydraConfig.get().runtime.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    for env_id in list(cfg.env_ids) if cfg.env_ids else list(envs.ENV_IDS):
        frames = random_episode_frames(env_id, cfg.n_steps, cfg.seed)
        path = out / f"{env_id.split('/')[-1]}.mp4"
        write_video(path, frames, scale=cfg.scale, fps=cfg.fps)
        logger.info("%s: %d frames -> %s", env_id, len(frames), path)


if __name__ == "__main__":
    main()
