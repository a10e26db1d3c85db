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
    start and goal images (as in `benchmarks.planner_overhead`). The optimum is unknown, so
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
import math
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from benchmarks.bench import bundled_world_model
from benchmarks.planner_overhead import encoded_problems
from planner import Energy, GoalDistance, LatentEnergy, make_planner
from worldmodels.checkpoint import load_world_model


@dataclass(frozen=True)
class LinearQuadratic:
    """Finite-horizon linear-quadratic control as an energy over action sequences.

    Dynamics x_{t+1} = transition @ x_t + control @ u_t from a given x_0; cost
    J(u) = sum_{t=1}^{H-1} x_t' Q x_t + x_H' Q_f x_H + sum_{t=0}^{H-1} u_t' R u_t (x_0 is fixed
    and not counted). Stacking the rollout as x = F x_0 + G u makes J a strictly convex
    quadratic in u, so the unconstrained optimum solves (G' Qbar G + Rbar) u = -G' Qbar F x_0.
    Everything is computed in float64.

    Attributes:
        transition: (S, S) state transition matrix.
        control: (S, A) control matrix.
        state_weight: (S, S) Q, positive semi-definite.
        terminal_weight: (S, S) Q_f, positive semi-definite.
        action_weight: (A, A) R, positive definite.
        horizon: H.
    """

    transition: Tensor
    control: Tensor
    state_weight: Tensor
    terminal_weight: Tensor
    action_weight: Tensor
    horizon: int

    @classmethod
    def double_integrator(
        cls,
        *,
        horizon: int,
        dt: float,
        position_weight: float,
        velocity_weight: float,
        action_weight: float,
        terminal_factor: float,
    ) -> LinearQuadratic:
        """A point mass in the plane, state (px, py, vx, vy), action the acceleration (ax, ay).

        Args:
            horizon: H, steps.
            dt: time step.
            position_weight: Q's weight on squared position.
            velocity_weight: Q's weight on squared velocity.
            action_weight: R's weight on squared acceleration.
            terminal_factor: Q_f = terminal_factor * Q.
        """
        eye, zero = torch.eye(2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64)
        transition = torch.cat([torch.cat([eye, dt * eye], 1), torch.cat([zero, eye], 1)])
        control = torch.cat([0.5 * dt**2 * eye, dt * eye])  # (4, 2)
        weights = [position_weight] * 2 + [velocity_weight] * 2
        state_weight = torch.diag(torch.tensor(weights, dtype=torch.float64))
        return cls(
            transition=transition,
            control=control,
            state_weight=state_weight,
            terminal_weight=terminal_factor * state_weight,
            action_weight=action_weight * eye,
            horizon=horizon,
        )

    @property
    def action_dim(self) -> int:
        return self.control.shape[1]

    @cached_property
    def stacked(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The rollout and cost as matrices over stacked states x = (x_1..x_H), u = (u_0..u_{H-1}).

        Returns:
            F (H*S, S), G (H*S, H*A) with x = F x_0 + G u, and the block-diagonal weights
            Qbar (H*S, H*S), Rbar (H*A, H*A).
        """
        H, (S, A) = self.horizon, self.control.shape
        powers = [torch.eye(S, dtype=torch.float64)]
        for _ in range(H):
            powers.append(self.transition @ powers[-1])
        initial = torch.cat(powers[1:])  # (H*S, S)
        response = torch.zeros(H * S, H * A, dtype=torch.float64)
        for t in range(H):  # x_{t+1} gets transition^(t-s) @ control @ u_s for s <= t
            for s in range(t + 1):
                response[t * S : (t + 1) * S, s * A : (s + 1) * A] = powers[t - s] @ self.control
        state_weights = [self.state_weight] * (H - 1) + [self.terminal_weight]
        return (
            initial,
            response,
            torch.block_diag(*state_weights),
            torch.block_diag(*[self.action_weight] * H),
        )

    def cost(self, x0: Tensor, actions: Tensor) -> Tensor:
        """J for every candidate.

        Args:
            x0: (B, S) initial states.
            actions: (B, N, H, A) candidate sequences; differentiable.

        Returns:
            (B, N) float64 costs.
        """
        B, N, H, A = actions.shape
        initial, response, state_weights, action_weights = self.stacked
        u = actions.to(torch.float64).reshape(B, N, H * A)
        x = (x0.to(torch.float64) @ initial.T)[:, None] + u @ response.T  # (B, N, H*S)
        return ((x @ state_weights) * x).sum(-1) + ((u @ action_weights) * u).sum(-1)

    def optimum(self, x0: Tensor) -> Tensor:
        """The unconstrained minimiser of J.

        Args:
            x0: (B, S) initial states.

        Returns:
            (B, H, A) float64 optimal action sequences.
        """
        initial, response, state_weights, action_weights = self.stacked
        hessian = response.T @ state_weights @ response + action_weights  # (H*A, H*A)
        linear = response.T @ state_weights @ initial @ x0.to(torch.float64).T  # (H*A, B)
        return -torch.linalg.solve(hessian, linear).T.reshape(-1, self.horizon, self.action_dim)


class CountingEnergy:
    """Wraps an energy and records its progress after every call.

    Attributes:
        evaluations: cumulative candidates evaluated per problem (the sum of N over calls).
        best: (B,) float64 lowest finite energy evaluated so far per problem (+inf before any).
        curve: after each call, (evaluations, best (B,), seconds since construction).
    """

    def __init__(self, energy: Energy, batch_size: int) -> None:
        self.energy = energy
        self.evaluations = 0
        self.best = torch.full((batch_size,), math.inf, dtype=torch.float64)
        self.curve: list[tuple[int, Tensor, float]] = []
        self._start = time.perf_counter()

    def __call__(self, actions: Tensor) -> Tensor:
        """Scores candidates (B, N, H, A) -> (B, N) with the wrapped energy, and counts them."""
        _, N, _, _ = actions.shape
        cost = self.energy(actions)
        finite = cost.detach().to(torch.float64).cpu()
        finite = torch.where(torch.isfinite(finite), finite, math.inf)
        self.evaluations += N
        self.best = torch.minimum(self.best, finite.min(dim=1).values)
        self.curve.append((self.evaluations, self.best.clone(), time.perf_counter() - self._start))
        return cost


@dataclass
class Curves:
    """Best-so-far energies of one planner on one problem set, over seeds.

    Attributes:
        evaluations: (C,) cumulative candidates per problem after each energy call.
        best: (seeds, B, C) float64 best energy so far.
        time_s: (seeds, C) wall time since the start of the plan call.
    """

    evaluations: Tensor
    best: Tensor
    time_s: Tensor


def quality_curves(
    name: str,
    params: dict,
    energy: Energy,
    *,
    batch_size: int,
    horizon: int,
    action_dim: int,
    low: float,
    high: float,
    seeds: int,
    device: str,
) -> Curves:
    """Plans once per seed (all B problems in one call) and records the counted curve.

    Raises:
        RuntimeError: if the sequence of energy calls differs between seeds (it cannot without
            a time budget; the curves are aligned call by call).
    """
    planner = make_planner(
        name,
        horizon=horizon,
        action_dim=action_dim,
        low=low,
        high=high,
        device=device,
        **params,
    )
    runs = []
    for seed in range(seeds):
        counter = CountingEnergy(energy, batch_size)
        planner.plan(counter, batch_size=batch_size, generator=torch.Generator().manual_seed(seed))
        runs.append(counter.curve)
    counts = [[count for count, _, _ in run] for run in runs]
    if any(other != counts[0] for other in counts):
        raise RuntimeError(f"{name}: energy calls differ between seeds")
    best = torch.stack([torch.stack([b for _, b, _ in run], dim=1) for run in runs])
    time_s = torch.tensor([[t for _, _, t in run] for run in runs], dtype=torch.float64)
    return Curves(evaluations=torch.tensor(counts[0]), best=best, time_s=time_s)


def summarize(curves: Curves, metric: Tensor, *, geometric: bool) -> dict:
    """Mean over problems, then median (and range) over seeds, as JSON-ready lists.

    Args:
        curves: the planner's curves.
        metric: (seeds, B, C) per-problem value derived from `curves.best`.
        geometric: take the geometric mean over problems (for ratios), else the arithmetic.
    """
    per_seed = metric.log().mean(dim=1).exp() if geometric else metric.mean(dim=1)  # (seeds, C)
    return {
        "evaluations": curves.evaluations.tolist(),
        "median": per_seed.median(dim=0).values.tolist(),
        "min": per_seed.min(dim=0).values.tolist(),
        "max": per_seed.max(dim=0).values.tolist(),
        "time_s": curves.time_s.median(dim=0).values.tolist(),
        "final_energy_per_problem": curves.best[:, :, -1].median(dim=0).values.tolist(),
    }


def value_at(summary: dict, budget: int) -> float | None:
    """The median value after the last energy call within `budget` evaluations per problem.

    Returns None when the first call already exceeds the budget or the run stopped before
    reaching it (its value there is unknown).
    """
    evaluations = summary["evaluations"]
    if evaluations[0] > budget or evaluations[-1] < budget:
        return None
    index = max(i for i, count in enumerate(evaluations) if count <= budget)
    return summary["median"][index]


def format_table(title: str, planners: dict[str, dict], budgets: list[int]) -> str:
    """Rows: planners; columns: the value at each budget and at the end of the run."""
    header = f"{'planner':8s}" + "".join(f"{f'@{b:.0e}':>11s}" for b in budgets)
    header += f"{'final':>11s}{'evals':>8s}{'time s':>8s}"
    lines = [title, header]
    for name, summary in planners.items():
        cells = [value_at(summary, b) for b in budgets] + [summary["median"][-1]]
        row = f"{name:8s}" + "".join(f"{'-':>11s}" if v is None else f"{v:11.3e}" for v in cells)
        row += f"{summary['evaluations'][-1]:8d}{summary['time_s'][-1]:8.2f}"
        lines.append(row)
    return "\n".join(lines)


def plot(path: Path, problems: dict[str, dict]) -> None:
    """One panel per problem: median curve over seeds and its range over seeds, against log
    evaluations; the LQ gap on a log axis, the world-model ratio on a linear one."""
    figure = Figure(figsize=(6 * len(problems), 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(problems), squeeze=False)[0]
    for axis, (key, problem) in zip(axes, problems.items(), strict=True):
        for name, summary in problem["planners"].items():
            x = summary["evaluations"]
            floor = 1e-15 if key == "lq" else 0.0  # keep a zero gap on the log axis
            (line,) = axis.plot(x, [max(v, floor) for v in summary["median"]], label=name)
            axis.fill_between(
                x,
                [max(v, floor) for v in summary["min"]],
                [max(v, floor) for v in summary["max"]],
                color=line.get_color(),
                alpha=0.15,
                linewidth=0,
            )
        axis.set_xscale("log")
        if key == "lq":
            axis.set_yscale("log")
        axis.set_xlabel("candidate evaluations per problem (forward passes)")
        axis.set_ylabel(problem["metric"])
        axis.set_title(problem["title"])
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.savefig(path, dpi=120)


def run_problem(
    planners: DictConfig,
    energy: Energy,
    *,
    batch_size: int,
    horizon: int,
    action_dim: int,
    low: float,
    high: float,
    seeds: int,
    device: str,
) -> dict[str, Curves]:
    """`quality_curves` for every planner in `planners` (name -> parameters)."""
    return {
        name: quality_curves(
            name,
            OmegaConf.to_container(params),
            energy,
            batch_size=batch_size,
            horizon=horizon,
            action_dim=action_dim,
            low=low,
            high=high,
            seeds=seeds,
            device=device,
        )
        for name, params in planners.items()
    }


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
            name: summarize(
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
            name: summarize(c, c.best / best_found[:, None], geometric=True)
            for name, c in curves.items()
        },
    }


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
        print(format_table(title, problem["planners"], list(cfg.budgets)))
    out = Path(HydraConfig.get().runtime.output_dir)
    plot(out / "planner_quality.png", problems)
    (out / "planner_quality.json").write_text(
        json.dumps({"problems": problems, "config": OmegaConf.to_container(cfg)}, indent=2)
    )
    print(f"written to {out / 'planner_quality.json'} and {out / 'planner_quality.png'}")


if __name__ == "__main__":
    main()
