"""Time per CEM plan on a world-model energy: eager or compiled, fp32 or bf16.

Plans `batch_size` problems with CEM (DINO-WM's 300 samples x 30 iterations, horizon 5 by
default) on the `LatentEnergy` of either the bundled PointMaze model or a model of DINO-WM's
size with random weights (196 patch tokens of dimension 384, as ViT-S/14 gives at 224 px, a
6-layer predictor, 3 observed frames whose keys and values are computed once per problem),
once per variant of the energy's options. Each variant gets one warm-up plan (which also
compiles), then `repeats` timed plans; the final energy of every variant's plan is evaluated
with the eager fp32 energy, so the variants can be checked to give the same answer. Writes
`plan_speed.json` into the hydra run directory. Run `python -m benchmarks.plan_speed` (CPU,
bundled model) or, on a GPU, `python -m benchmarks.plan_speed device=cuda model=dinowm`.
"""

from __future__ import annotations

import json
import logging
import statistics
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from benchmarks.maze_problems import encoded_problems
from benchmarks.speed import dinowm_size_problems
from planner import GoalDistance, LatentEnergy, make_planner
from worldmodels.bundled import bundled_world_model
from worldmodels.checkpoint import load_world_model

logger = logging.getLogger(__name__)


@hydra.main(config_path="conf", config_name="plan_speed", version_base="1.3")
def main(cfg: DictConfig) -> None:
    if cfg.model == "bundled":
        world_model = load_world_model(bundled_world_model("wmplan/PointMaze-v0"), cfg.device)
        z_hist, z_goal = encoded_problems(world_model, cfg.batch_size)
        past = None
    elif cfg.model == "dinowm":
        world_model, z_hist, z_goal, past = dinowm_size_problems(
            cfg.dinowm, cfg.batch_size, cfg.device
        )
    else:
        raise ValueError(f"model must be 'bundled' or 'dinowm', got {cfg.model!r}")
    cost = GoalDistance("last")
    reference = LatentEnergy(world_model, cost)
    planner = make_planner(
        "cem",
        horizon=cfg.horizon,
        action_dim=world_model.action_dim,
        device=cfg.device,
        **OmegaConf.to_container(cfg.planner),
    )
    rows = []
    for name, options in cfg.variants.items():
        energy = LatentEnergy(world_model, cost, **options).bind(z_hist, z_goal, past)
        times, final = [], []
        with torch.no_grad():
            for repeat in range(cfg.repeats + 1):  # the first plan warms up (and compiles)
                generator = torch.Generator(cfg.device).manual_seed(repeat)
                result = planner.plan(energy, batch_size=cfg.batch_size, generator=generator)
                if repeat:
                    times.append(result.trace["total_time_s"])
                    plan_energy = reference(z_hist, z_goal, result.actions[:, None], past)
                    final.append(plan_energy.mean().item())
        rows.append(
            {
                "variant": name,
                **OmegaConf.to_container(options),
                "plan_s": statistics.median(times),
                "final_energy": statistics.mean(final),
            }
        )
    eager = rows[0]["plan_s"]
    for row in rows:
        row["speedup_vs_first"] = eager / row["plan_s"]
        logger.info(
            "%-14s plan %8.3f s  speed-up %5.2fx  final energy (fp32) %.5f",
            row["variant"],
            row["plan_s"],
            row["speedup_vs_first"],
            row["final_energy"],
        )
    out = Path(HydraConfig.get().runtime.output_dir) / "plan_speed.json"
    device_name = torch.cuda.get_device_name() if cfg.device.startswith("cuda") else "cpu"
    report = {"device": device_name, "rows": rows, "config": OmegaConf.to_container(cfg)}
    out.write_text(json.dumps(report, indent=2))
    logger.info("written to %s", out)


if __name__ == "__main__":
    main()
