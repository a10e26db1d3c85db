"""The two problem sets of the planner-quality benchmark (see ``benchmarks.planner_quality``).

(a) ``lq``: a double integrator with a quadratic cost, scored by the relative optimality gap.
(b) ``world_model``: the goal distance of a PointMaze world model, scored against the best
    energy any planner found.
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig

from benchmarks.linear_quadratic import LinearQuadratic
from benchmarks.maze_problems import encoded_problems
from benchmarks.quality_curves import run_problem, summarize_curves
from planner import GoalDistance, LatentEnergy
from worldmodels.bundled import bundled_world_model
from worldmodels.checkpoint import load_world_model


def lq_problem(cfg: DictConfig, seeds: int) -> dict:
    """Part (a): relative optimality gap on the double integrator."""
    problem = LinearQuadratic.double_integrator(
        horizon=cfg.horizon,
        dt=cfg.dt,
        position_weight=cfg.position_weight,
        velocity_weight=cfg.velocity_weight,
        action_weight=cfg.action_weight,
        terminal_factor=cfg.terminal_factor,
    )
    generator = torch.Generator().manual_seed(cfg.seed)
    scale = torch.tensor([cfg.position_scale] * 2 + [cfg.velocity_scale] * 2, dtype=torch.float64)
    x0 = scale * (2 * torch.rand(cfg.batch_size, 4, generator=generator, dtype=torch.float64) - 1)
    optimum = problem.optimum(x0)  # (B, H, A)
    # The closed form is the constrained optimum only when it lies strictly inside the bounds.
    if not ((cfg.low < optimum) & (optimum < cfg.high)).all():
        raise ValueError(
            f"lq: the optimal actions span [{optimum.min():.3f}, {optimum.max():.3f}], outside "
            f"the bounds [{cfg.low}, {cfg.high}]; widen them or shrink the initial states"
        )
    optimal_cost = problem.cost(x0, optimum[:, None])[:, 0]  # (B,)
    curves = run_problem(
        cfg.planners,
        lambda actions: problem.cost(x0, actions),
        batch_size=cfg.batch_size,
        horizon=cfg.horizon,
        action_dim=problem.action_dim,
        low=cfg.low,
        high=cfg.high,
        seeds=seeds,
        device="cpu",
    )
    return {
        "title": f"linear-quadratic (H={cfg.horizon}, B={cfg.batch_size})",
        "metric": "(cost - optimum) / optimum",
        "aggregate": "mean over problems, median over seeds",
        "optimal_cost": optimal_cost.tolist(),
        "largest_optimal_action": optimum.abs().max().item(),
        "planners": {
            name: summarize_curves(
                c, (c.best - optimal_cost[:, None]) / optimal_cost[:, None], geometric=False
            )
            for name, c in curves.items()
        },
    }


def world_model_problem(cfg: DictConfig, seeds: int, device: str) -> dict:
    """Part (b): energy relative to the best any planner found, on the PointMaze world model."""
    path = Path(cfg.path) if cfg.path else bundled_world_model("wmplan/PointMaze-v0")
    world_model = load_world_model(path, device=device)
    problems = encoded_problems(world_model, cfg.batch_size)
    energy = LatentEnergy(world_model, GoalDistance("all")).bind(*problems)
    curves = run_problem(
        cfg.planners,
        energy,
        batch_size=cfg.batch_size,
        horizon=cfg.horizon,
        action_dim=world_model.action_dim,
        low=cfg.low,
        high=cfg.high,
        seeds=seeds,
        device=device,
    )
    best_found = torch.stack([c.best[:, :, -1].min(dim=0).values for c in curves.values()])
    best_found = best_found.min(dim=0).values  # (B,)
    return {
        "title": f"PointMaze world model (H={cfg.horizon}, B={cfg.batch_size})",
        "metric": "energy / best found by any planner",
        "aggregate": "geometric mean over problems, median over seeds",
        "best_found": best_found.tolist(),
        "planners": {
            name: summarize_curves(c, c.best / best_found[:, None], geometric=True)
            for name, c in curves.items()
        },
    }
