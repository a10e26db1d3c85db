"""Planner quality versus compute: best energy reached against candidate evaluations.

Every planner minimises two energies, each for B problems in one `plan` call, and the
energy is wrapped in a counter (`CountingEnergy`) that records, after every call, the
candidate sequences evaluated so far per problem and the best finite energy seen so far
(the same value as the trace's `best_cost`, but at the resolution of energy calls, so iCEM's
shrinking populations and CEM-GD's extra gradient calls are counted exactly). Each run is
one long plan read off along the way; it is repeated over seeds and the median reported.

(a) ``lq``: a 2-D double integrator steered to rest at the origin with a quadratic cost
    (`LinearQuadratic`). Its optimum is closed form (a linear solve) and strictly inside the
    bounds, so the curve is the relative optimality gap (cost - optimum) / optimum.
(b) ``world_model``: the goal distance of the bundled PointMaze world model from encoded
    start and goal images (`benchmarks.maze_problems`). The optimum is unknown, so
    each problem's energy is divided by the lowest energy any planner found on it, any
    seed; the curve is that ratio (1 = the best found), geometric mean over problems (an
    arithmetic mean would be dominated by the problem with the smallest best energy).

Counting: one evaluation is one candidate sequence in one forward call of the energy, for
every planner. The gradient planners (gd, adam, gradcem) also backpropagate through the
energy, which costs about two more forwards per candidate and is not counted; the wall time
of every point is recorded as well so both x axes are available (`time_s` in the JSON).

Planner parameters live in the config, one block per problem: the samplers (cem, icem, mppi,
gradcem) draw 96 candidates per iteration; step sizes (gd, adam, gradcem) and MPPI's noise
and temperature were picked per problem from a few values each, by hand.

Writes ``planner_quality.json`` (curves and config) and ``planner_quality.png`` into the
hydra run directory and prints, per problem and planner, the value reached at a few budgets
of evaluations per problem. Run ``python -m benchmarks.planner_quality``.
"""

from __future__ import annotations

import json
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from benchmarks.quality_curves import format_quality_table, plot_quality
from benchmarks.quality_problems import lq_problem, world_model_problem


@hydra.main(config_path="conf", config_name="planner_quality", version_base="1.3")
def main(cfg: DictConfig) -> None:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    problems = {
        "lq": lq_problem(cfg.lq, cfg.seeds),
        "world_model": world_model_problem(cfg.world_model, cfg.seeds, cfg.device),
    }
    for key, problem in problems.items():
        title = f"{key}: {problem['metric']} ({problem['aggregate']})"
        print(format_quality_table(title, problem["planners"], list(cfg.budgets)))
    out = Path(HydraConfig.get().runtime.output_dir)
    plot_quality(out / "planner_quality.png", problems)
    (out / "planner_quality.json").write_text(
        json.dumps({"problems": problems, "config": OmegaConf.to_container(cfg)}, indent=2)
    )
    print(f"written to {out / 'planner_quality.json'} and {out / 'planner_quality.png'}")


if __name__ == "__main__":
    main()
