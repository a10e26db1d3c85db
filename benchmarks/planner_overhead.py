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

import gymnasium as gym
import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

import envs  # noqa: F401  (registers the environments)
from benchmarks.bench import bundled_world_model
from planner import GoalDistance, LatentEnergy, make_planner
from worldmodels.checkpoint import load_world_model
from worldmodels.world_model import WorldModel


def encoded_problems(world_model: WorldModel, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Start and goal tokens of ``batch_size`` seeded maze problems: (B, 1, P, D), (B, P, D)."""
    env = gym.make("wmplan/PointMaze-v0", image_size=world_model.image_size)
    starts, goals = [], []
    for seed in range(batch_size):
        obs, info = env.reset(seed=200_000 + seed)
        starts.append(obs["pixels"])
        goals.append(info["goal_obs"]["pixels"])
    with torch.no_grad():
        z_start = world_model.encode(torch.from_numpy(np.stack(starts))[:, None])
        z_goal = world_model.encode(torch.from_numpy(np.stack(goals))[:, None])[:, 0]
    return z_start, z_goal


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
