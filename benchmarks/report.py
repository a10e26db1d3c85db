"""Benchmark statistics and the printed table."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927)."""
    if n == 0:
        return 0.0, 1.0
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def summarize_episodes(
    successes: np.ndarray,
    reached: np.ndarray,
    final_distances: np.ndarray,
    plan_times_s: np.ndarray,
    plan_problems: np.ndarray,
) -> dict[str, float]:
    """Headline figures of a benchmark run.

    Args:
        successes: (E,) bool, goal reached at the end of each episode.
        reached: (E,) bool, goal reached at some step of each episode.
        final_distances: (E,) distance to the goal at the end of each episode.
        plan_times_s: (R,) wall-clock seconds of each (batched) replan.
        plan_problems: (R,) problems planned together in each replan (a last, partial batch
            plans fewer); the latency per problem divides each plan's time by its own count.
    """
    low, high = wilson_interval(int(successes.sum()), len(successes))
    return {
        "n_episodes": len(successes),
        "success_rate": float(successes.mean()),
        "success_ci95_low": low,
        "success_ci95_high": high,
        "reached_rate": float(reached.mean()),
        "mean_final_distance": float(final_distances.mean()),
        "plan_latency_p50_s": float(np.percentile(plan_times_s, 50)),
        "plan_latency_p95_s": float(np.percentile(plan_times_s, 95)),
        "plan_batch_size": int(np.max(plan_problems)),
        "plan_latency_per_problem_p50_s": float(np.percentile(plan_times_s / plan_problems, 50)),
    }


def format_table(summary: dict[str, float], title: str) -> str:
    """The headline figures as a small text table."""
    rows = [
        ("episodes", f"{summary['n_episodes']}"),
        (
            "success rate",
            f"{summary['success_rate']:.3f}  "
            f"(95% CI {summary['success_ci95_low']:.3f}-{summary['success_ci95_high']:.3f})",
        ),
        ("reached at any step", f"{summary['reached_rate']:.3f}"),
        ("mean final distance", f"{summary['mean_final_distance']:.3f}"),
        (
            f"plan latency p50 / p95 (B={summary['plan_batch_size']})",
            f"{summary['plan_latency_p50_s'] * 1e3:.0f} / "
            f"{summary['plan_latency_p95_s'] * 1e3:.0f} ms",
        ),
        (
            "plan latency p50 per problem",
            f"{summary['plan_latency_per_problem_p50_s'] * 1e3:.1f} ms",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    line = "-" * (width + 40)
    body = "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
    return f"{title}\n{line}\n{body}\n{line}"
