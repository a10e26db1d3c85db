"""Planner overhead on a learned world-model energy.

For each planner and batch size, plans from encoded start and goal images of
``wmplan/PointMaze-v0`` and reads ``PlanResult.trace``: total plan time, time
inside the energy (world-model rollout plus goal distance) and the rest, the
planner's own overhead (for gradient planners this includes the backward pass
through the world model, which the energy time does not). Writes
``planner_overhead.json`` into the hydra run directory.
Run ``python -m benchmarks.planner_overhead``.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from benchmarks.maze_problems import encoded_problems
from planner import GoalDistance, LatentEnergy, make_planner
from worldmodels.bundled import bundled_world_model
from worldmodels.checkpoint import load_world_model


@hydra.main(config_path="conf", config_name="planner_overhead", version_base="1.3")
def main(cfg: DictConfig) -> None:
    wm_path = (
        Path(cfg.world_model) if cfg.world_model else bundled_world_model("wmplan/PointMaze-v0")
    )
    world_model = load_world_model(wm_path, device=cfg.device)
    cost = GoalDistance("all")
    rows = []
    for batch_size in cfg.batch_sizes:
        energy = LatentEnergy(world_model, cost).bind(*encoded_problems(world_model, batch_size))
        for name, params in cfg.planners.items():
            planner = make_planner(
                name,
                horizon=cfg.horizon,
                action_dim=world_model.action_dim,
                device=cfg.device,
                **OmegaConf.to_container(params),
            )
            traces = [
                planner.plan(
                    energy, batch_size=batch_size, generator=torch.Generator().manual_seed(i)
                ).trace
                for i in range(cfg.repeats)
            ]
            total = statistics.median(t["total_time_s"] for t in traces)
            inside = statistics.median(t["energy_time_s"] for t in traces)
            rows.append(
                {
                    "planner": name,
                    "batch_size": batch_size,
                    "total_s": total,
                    "energy_s": inside,
                    "overhead_fraction": 1 - inside / total,
                }
            )
            print(
                f"{name:8s} B={batch_size:<3d} plan {total * 1e3:8.1f} ms   energy "
                f"{inside * 1e3:8.1f} ms   overhead {100 * (1 - inside / total):5.1f}%"
            )
    out = Path(HydraConfig.get().runtime.output_dir) / "planner_overhead.json"
    out.write_text(json.dumps({"rows": rows, "config": OmegaConf.to_container(cfg)}, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
