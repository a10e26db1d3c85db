"""``wmplan-import``: convert a local LeRobot (v2.x or v3.0) or Minari dataset into a wmplan
trajectory dataset.

Run, e.g., ``python -m benchmarks.import_dataset source=~/lerobot/pusht out=data/pusht_lr
camera=observation.image image_size=64`` or ``source=D4RL/pointmaze/umaze-v2 format=minari
state_key=observation render=true``; see ``envs.lerobot_import`` and ``envs.minari_io`` for
what is read and how it maps onto our T+1 frames and T actions.
"""

from __future__ import annotations

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

from envs.dataset_summary import format_summary, summarize_dataset
from envs.lerobot_import import import_lerobot

FORMATS = ("auto", "lerobot", "minari")


@hydra.main(config_path="conf", config_name="import_dataset", version_base="1.3")
def main(cfg: DictConfig) -> None:
    if cfg.format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {cfg.format!r}")
    lerobot = (Path(cfg.source) / "meta" / "info.json").is_file()
    episodes = None if cfg.episodes is None else list(cfg.episodes)
    common = {
        "out": cfg.out,
        "image_size": cfg.image_size,
        "env_id": cfg.env_id,
        "center_crop": cfg.center_crop,
        "episodes": episodes,
    }
    if cfg.format == "lerobot" or (cfg.format == "auto" and lerobot):
        n = import_lerobot(source=cfg.source, camera=cfg.camera, **common)
    else:
        if cfg.minari_root is not None:
            os.environ["MINARI_DATASETS_PATH"] = str(cfg.minari_root)
        from envs.minari_io import import_minari  # needs the optional minari package

        n = import_minari(
            source=cfg.source,
            image_key=cfg.camera,
            state_key=cfg.state_key,
            render=cfg.render,
            **common,
        )
    print(f"imported {n} episodes from {cfg.source} into {cfg.out}")
    print(format_summary(summarize_dataset(cfg.out)))


if __name__ == "__main__":
    main()
