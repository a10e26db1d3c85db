"""Object localisation by agent distance: ``python -m benchmarks.localisation``.

A world model predicts contact well only if its frame tells where the object is when the agent
touches it. This fits a linear map from the model's first token (or its ``features``) to the
object's position on resting frames with the agent far (``fit_beyond``), then reports the map's
error (median and 90th percentile, in state units) on every frame, binned by the agent's
distance to the object, and on frames where the object is carried. Writes
``localisation.json`` into the hydra run directory.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from benchmarks.localisation_errors import localisation_errors
from envs.dataset import TrajectoryDataset
from worldmodels.bundled import bundled_world_model
from worldmodels.checkpoint import load_world_model
from worldmodels.training_data import encode_frames, flatten_episodes

logger = logging.getLogger(__name__)


@hydra.main(config_path="conf", config_name="localisation", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    dataset = TrajectoryDataset(cfg.dataset, env_id=cfg.env_id)
    if cfg.n_episodes > len(dataset):
        raise ValueError(f"n_episodes={cfg.n_episodes} > the dataset's {len(dataset)} episodes")
    chosen = np.random.default_rng(cfg.seed).choice(len(dataset), cfg.n_episodes, replace=False)
    episodes = dataset.episodes(sorted(chosen.tolist()))
    if any(e.states is None for e in episodes):
        raise ValueError(f"{dataset.root} records no task states; collect with wmplan-collect")
    world_model = load_world_model(cfg.world_model or bundled_world_model(cfg.env_id))
    with torch.no_grad():
        tokens = encode_frames(world_model, flatten_episodes(episodes))[:, 0].numpy()  # (F, D)
    features = tokens if cfg.features is None else tokens[:, list(cfg.features)]
    states = np.concatenate([e.states for e in episodes])  # (F, s)
    target = states[:, list(cfg.object_dims)]
    distance = np.linalg.norm(target - states[:, list(cfg.agent_dims)], axis=1)
    resting = states[:, cfg.rest_dim] < cfg.rest_below
    rows = localisation_errors(features, target, distance, resting, cfg.fit_beyond, cfg.bins)
    lines = [f"{r['frames']:<28} n={r['n']:6d}  median {r['median']:.4f}  p90 {r['p90']:.4f}"
             for r in rows]  # fmt: skip
    logger.info("object position error of a linear map from %s (%d frames fitted):\n%s",
                "the token" if cfg.features is None else f"features {list(cfg.features)}",
                int((resting & (distance > cfg.fit_beyond)).sum()), "\n".join(lines))  # fmt: skip
    report = {"rows": rows}
    out = Path(HydraConfig.get().runtime.output_dir) / "localisation.json"
    out.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
