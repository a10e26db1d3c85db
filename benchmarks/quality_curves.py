"""Best energy reached against candidate evaluations: counting, curves, tables and the plot.

One evaluation is one candidate sequence in one forward call of the energy (`CountingEnergy`);
see ``benchmarks.planner_quality`` for the benchmark these serve.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from planner import Energy, make_planner


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


def summarize_curves(curves: Curves, metric: Tensor, *, geometric: bool) -> dict:
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


def format_quality_table(title: str, planners: dict[str, dict], budgets: list[int]) -> str:
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


def plot_quality(path: Path, problems: dict[str, dict]) -> None:
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
