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

import gymnasium as gym
import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import envs
from benchmarks.videos import write_video
from envs.policies import UniformRandomPolicy

logger = logging.getLogger(__name__)


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
