"""Which keypoints of a world model's keypoint token the task moves (`benchmarks.object_features`):
``python -m benchmarks.object_keypoints env_id=...``.

Resets below 100000 (training-side seeds, not the benchmark's). Prints each kept keypoint's
mean squared start-goal displacement and the `planner.energy.GoalDistance` ``features`` (the
moved keypoints' x, y dimensions in token 0); writes ``object_keypoints.json`` into the hydra
run directory.
"""

from __future__ import annotations

import json
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from benchmarks.object_features import goal_displacements, object_features
from worldmodels.bundled import bundled_world_model
from worldmodels.checkpoint import load_world_model


@hydra.main(config_path="conf", config_name="object_keypoints", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    if cfg.n_resets < 1:
        raise ValueError(f"n_resets must be >= 1, got {cfg.n_resets}")
    path = Path(cfg.world_model) if cfg.world_model else bundled_world_model(cfg.env_id)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    world_model = load_world_model(path, device=cfg.device)
    seeds = list(range(cfg.seed, cfg.seed + cfg.n_resets))
    displacements = goal_displacements(world_model, cfg.env_id, seeds)
    features = object_features(displacements, cfg.share)
    print(f"{cfg.env_id}  {path}  {cfg.n_resets} resets from seed {cfg.seed}")
    for k, value in enumerate(displacements):
        print(f"keypoint {k}: mean squared start-goal displacement {value:.4f}")
    print(f"GoalDistance features: {features}")
    result = {"displacements": displacements.tolist(), "features": features, "share": cfg.share}
    out = Path(HydraConfig.get().runtime.output_dir) / "object_keypoints.json"
    out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
