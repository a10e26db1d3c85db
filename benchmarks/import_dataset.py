"""``wmplan-import``: convert a local LeRobot v2.x dataset into a wmplan trajectory dataset.

Run, e.g., ``python -m benchmarks.import_dataset source=~/lerobot/pusht out=data/pusht_lr
camera=observation.image image_size=64``; see ``envs.lerobot_import`` for the layout read and
how LeRobot's one-action-per-frame rows map onto our T+1 frames and T actions.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from envs.dataset_summary import format_summary, summarize_dataset
from envs.lerobot_import import import_lerobot


@hydra.main(config_path="conf", config_name="import_dataset", version_base="1.3")
def main(cfg: DictConfig) -> None:
    n = import_lerobot(
        source=cfg.source,
        out=cfg.out,
        image_size=cfg.image_size,
        camera=cfg.camera,
        env_id=cfg.env_id,
        center_crop=cfg.center_crop,
        episodes=None if cfg.episodes is None else list(cfg.episodes),
    )
    print(f"imported {n} episodes from {cfg.source} into {cfg.out}")
    print(format_summary(summarize_dataset(cfg.out)))


if __name__ == "__main__":
    main()
