"""Energy map of a ball-arena world model (PointMaze, Wall): latent goal distance over ball
positions.

For each goal, the ball is rendered at every free point of a grid, encoded
with the world model's frozen encoder, and its token distance to the goal's
tokens is ranked; the PNG shows ranks (dark = close in latent space), one panel
per goal, walls white. Run ``python -m benchmarks.energy_map``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import gymnasium as gym
import hydra
import imageio.v3 as iio
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import envs  # noqa: F401  (registers the environments)
from benchmarks.energy_landscape import energy_ranks
from envs.ball_arena import BallArenaEnv
from worldmodels.bundled import bundled_world_model
from worldmodels.checkpoint import load_world_model

logger = logging.getLogger(__name__)


@hydra.main(config_path="conf", config_name="energy_map", version_base="1.3")
def main(cfg: DictConfig) -> None:
    wm_path = Path(cfg.world_model) if cfg.world_model else bundled_world_model(cfg.env_id)
    world_model = load_world_model(wm_path)
    env = gym.make(cfg.env_id, image_size=world_model.image_size).unwrapped
    if not isinstance(env, BallArenaEnv):
        raise ValueError(f"env_id must be a ball arena (PointMaze, Wall), got {cfg.env_id!r}")
    env.reset(seed=0)
    lim = min(env.half_extents) - env.ball_radius
    xs = np.linspace(-lim, lim, cfg.resolution)
    panels = []
    for goal in cfg.goals:
        ranks = energy_ranks(world_model, env, np.asarray(goal, dtype=float), xs)
        gray = np.nan_to_num(ranks, nan=1.0) * 255
        rgb = np.repeat(gray[..., None], 3, axis=2).astype(np.uint8)
        gi = np.abs(xs - goal[0]).argmin(), np.abs(xs[::-1] - goal[1]).argmin()
        rgb[gi[1], gi[0]] = (220, 30, 30)  # the goal
        panels.append(np.pad(rgb, ((0, 0), (0, 2), (0, 0)), constant_values=128))
    image = np.concatenate(panels, axis=1)
    image = np.repeat(np.repeat(image, cfg.scale, axis=0), cfg.scale, axis=1)
    out = Path(HydraConfig.get().runtime.output_dir) / "energy_map.png"
    iio.imwrite(out, image)
    print(f"energy map written to {out}")


if __name__ == "__main__":
    main()
