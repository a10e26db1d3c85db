"""The rows of the results report, read from the ``results.json`` files the benchmarks write.

Two kinds of file hold results on the benchmark pairs:

- ``wmplan-bench`` writes one run (one environment, one planner): ``summary`` (see
  ``benchmarks.report.summarize_episodes``) and the resolved ``config``.
- ``python -m benchmarks.reach_rates`` writes ``kind: reach_rates``: one entry per
  environment and policy (scripted expert, random policy), written by ``policy_results``.

Either becomes ``ResultRow``s: successes at the last step and at any step out of the pairs,
the step budget, the first seed and, for planners, the plan latency. An earlier report's own
results.json (``kind: results_report``) is skipped when runs are gathered; its rows can be
carried into a new report (`earlier_rows`, `merge_rows`), so one environment's new runs extend
the table without rerunning the others.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from pathlib import Path

import gymnasium as gym

import envs  # noqa: F401  (registers the environments)

REACH_RATES_KIND = "reach_rates"
REPORT_KIND = "results_report"  # the report's own results.json; skipped when gathering
POLICY_LABELS = {"expert": "scripted expert", "random": "random policy"}


@dataclass(frozen=True)
class ResultRow:
    """One method on one environment's benchmark pairs.

    Attributes:
        env_id: registered environment id.
        method: planner name (``cem``, ...) or policy label (``random policy``, ...).
        kind: ``planner`` or ``policy``.
        successes: pairs at the goal at the last step.
        reached: pairs at the goal at some step.
        n_pairs: start/goal pairs (episodes).
        budget: environment steps per episode.
        first_seed: reset seed of the first pair (pair i uses ``first_seed + i``).
        plan_latency_p50_s: median seconds per (batched) replan; None for policies.
        plan_batch_size: problems planned together in each replan; None for policies.
        source: the results.json the row was read from.
    """

    env_id: str
    method: str
    kind: str
    successes: int
    reached: int
    n_pairs: int
    budget: int
    first_seed: int
    plan_latency_p50_s: float | None
    plan_batch_size: int | None
    source: str


def registered_budget(env_id: str) -> int | None:
    """``max_episode_steps`` registered for ``env_id``; None when the id is not registered."""
    try:
        return gym.spec(env_id).max_episode_steps
    except gym.error.Error:
        return None


def policy_results(
    outcomes: dict[str, dict[str, list[tuple[bool, bool]]]], first_seed: int
) -> dict:
    """The reach-rates results file: per environment and policy, the outcome of every pair.

    Args:
        outcomes: ``benchmarks.episodes.reach_outcomes``: ``{env_id: {policy: [(success at
            the last step, success at any step)]}}``, pair i reset with ``first_seed + i``.
        first_seed: reset seed of the first pair.

    Returns:
        ``{"kind": "reach_rates", "runs": [...]}``, one run per environment and policy with
        ``env_id``, ``policy``, ``max_steps`` (the registered budget), ``seed``, ``summary``
        (``n_episodes``, ``success_rate``, ``reached_rate``) and ``episodes``.
    """
    runs = []
    for env_id, by_policy in outcomes.items():
        for policy, episodes in by_policy.items():
            n = len(episodes)
            runs.append(
                {
                    "env_id": env_id,
                    "policy": policy,
                    "max_steps": gym.spec(env_id).max_episode_steps,
                    "seed": first_seed,
                    "summary": {
                        "n_episodes": n,
                        "success_rate": sum(final for final, _ in episodes) / n,
                        "reached_rate": sum(touched for _, touched in episodes) / n,
                    },
                    "episodes": [
                        {"seed": first_seed + i, "success": bool(final), "reached": bool(touched)}
                        for i, (final, touched) in enumerate(episodes)
                    ],
                }
            )
    return {"kind": REACH_RATES_KIND, "runs": runs}


def _count(rate: float, n: int, name: str) -> int:
    """Episodes behind a rate over ``n`` episodes (a rate of k/n gives k exactly)."""
    if n < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n}")
    count = round(rate * n)
    if not 0 <= count <= n or not math.isclose(count / n, rate, abs_tol=1e-9):
        raise ValueError(f"{name} {rate!r} is not a count out of {n} episodes")
    return count


def _bench_row(data: dict, path: Path) -> ResultRow:
    """The row of a ``wmplan-bench`` results file."""
    summary, config = data["summary"], data["config"]
    n = int(summary["n_episodes"])
    return ResultRow(
        env_id=config["env_id"],
        method=config["planner"]["name"],
        kind="planner",
        successes=_count(summary["success_rate"], n, "success_rate"),
        reached=_count(summary["reached_rate"], n, "reached_rate"),
        n_pairs=n,
        budget=int(config["max_steps"]),
        first_seed=int(config["seed"]),
        plan_latency_p50_s=float(summary["plan_latency_p50_s"]),
        plan_batch_size=int(summary["plan_batch_size"]),
        source=str(path),
    )


def _policy_row(run: dict, path: Path) -> ResultRow:
    """The row of one environment and policy of a reach-rates results file."""
    summary = run["summary"]
    n = int(summary["n_episodes"])
    return ResultRow(
        env_id=run["env_id"],
        method=POLICY_LABELS.get(run["policy"], run["policy"]),
        kind="policy",
        successes=_count(summary["success_rate"], n, "success_rate"),
        reached=_count(summary["reached_rate"], n, "reached_rate"),
        n_pairs=n,
        budget=int(run["max_steps"]),
        first_seed=int(run["seed"]),
        plan_latency_p50_s=None,
        plan_batch_size=None,
        source=str(path),
    )


def _read_json(path: Path, what: str) -> object:
    """The JSON in ``path``; a ValueError naming it and ``what`` it should hold otherwise."""
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: cannot read {what} ({error})") from error


def read_rows(path: Path) -> list[ResultRow]:
    """The rows of one results.json: one for a bench run, one per env and policy for reach
    rates, none for a results report.

    Raises:
        ValueError: naming ``path`` when it is not JSON or not one of these kinds of file.
    """
    data = _read_json(path, "a results file")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    try:
        if data.get("kind") == REPORT_KIND:
            return []
        if data.get("kind") == REACH_RATES_KIND:
            return [_policy_row(run, path) for run in data["runs"]]
        if "summary" in data and "config" in data:
            return [_bench_row(data, path)]
    except KeyError as error:
        raise ValueError(f"{path}: malformed results file, no key {error}") from error
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: malformed results file: {error}") from error
    raise ValueError(
        f"{path}: neither a wmplan-bench results file (keys summary, config) nor a reach-rates "
        f"one (kind: {REACH_RATES_KIND}); its keys are {sorted(data)}"
    )


def gather_rows(folders: list[Path]) -> list[ResultRow]:
    """Every row of every results.json under ``folders`` (searched recursively).

    Raises:
        ValueError: naming the folder that does not exist or holds no results.json, a file
            that cannot be read (see ``read_rows``), or two files with results for the same
            environment and method.
    """
    rows: list[ResultRow] = []
    for folder in folders:
        if not folder.is_dir():
            raise ValueError(f"runs folder {folder} does not exist")
        paths = sorted(folder.rglob("results.json"))
        if not paths:
            raise ValueError(f"no results.json under {folder}")
        for path in paths:
            rows.extend(read_rows(path))
    seen: dict[tuple[str, str], str] = {}
    for row in rows:
        key = (row.env_id, row.method)
        if key in seen:
            raise ValueError(
                f"two results for {row.env_id} with {row.method}: {seen[key]} and {row.source}"
            )
        seen[key] = row.source
    return rows


def earlier_rows(path: Path) -> list[ResultRow]:
    """The rows of an earlier results report (its results.json), each with its own source.

    Raises:
        ValueError: naming ``path`` when it is not a results report or a row lacks a field.
    """
    data = _read_json(path, "a results report")
    if not isinstance(data, dict) or data.get("kind") != REPORT_KIND:
        raise ValueError(f"{path}: not a results report (kind: {REPORT_KIND})")
    names = [f.name for f in fields(ResultRow)]
    try:
        return [ResultRow(**{name: row[name] for name in names}) for row in data["rows"]]
    except (KeyError, TypeError) as error:
        raise ValueError(f"{path}: malformed results report row, no field {error}") from error


def merge_rows(new: list[ResultRow], earlier: list[ResultRow]) -> list[ResultRow]:
    """``new`` rows, then the ``earlier`` ones for environments and methods ``new`` lacks."""
    measured = {(row.env_id, row.method) for row in new}
    return new + [row for row in earlier if (row.env_id, row.method) not in measured]
