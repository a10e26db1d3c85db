"""``wmplan-export``: write a wmplan trajectory dataset as a Minari dataset, to share data
collected here in a standard format.

Run, e.g., ``python -m benchmarks.export_dataset source=data/pointmaze
dataset_id=wmplan/pointmaze/persistent-v0``; then ``minari.load_dataset(dataset_id)`` reads it.
See ``envs.minari_io`` for what is written.
"""

from __future__ import annotations

import os

import hydra
from omegaconf import DictConfig

import envs  # noqa: F401  (registers the environments: the export records their EnvSpec)


@hydra.main(config_path="conf", config_name="export_dataset", version_base="1.3")
def main(cfg: DictConfig) -> None:
    if cfg.format != "minari":
        raise ValueError(f"format must be 'minari' (the one export format), got {cfg.format!r}")
    if cfg.minari_root is not None:
        os.environ["MINARI_DATASETS_PATH"] = str(cfg.minari_root)
    from envs.minari_io import export_minari  # needs the optional minari package

    dataset = export_minari(
        source=cfg.source,
        dataset_id=cfg.dataset_id,
        author=cfg.author,
        author_email=cfg.author_email,
        code_permalink=cfg.code_permalink,
        description=cfg.description,
    )
    print(
        f"exported {dataset.total_episodes} episodes ({dataset.total_steps} steps) from "
        f"{cfg.source} as Minari dataset {dataset.id} in {dataset.storage.data_path}"
    )


if __name__ == "__main__":
    main()
