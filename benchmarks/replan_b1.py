"""B = 1 replanning: success and plan latency of planning settings in one run.

Each variant is a ``wmplan-bench batch_size=1`` run (one problem per plan, the controller of
a single robot) with its overrides, started one after the other on the same machine, so their
latencies compare. Table: success with its 95% interval, reached at any step, and plan latency
p50 / p95 (B = 1).

    python -m benchmarks.replan_b1                 # the benchmark pairs
    python -m benchmarks.replan_b1 seed=200000     # held-out dev pairs
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


def run_variant(cfg: DictConfig, overrides: list[str], out_dir: Path) -> dict:
    """Runs one ``wmplan-bench batch_size=1`` variant into out_dir; its results.json."""
    command = [
        sys.executable, "-m", "benchmarks.bench", f"env_id={cfg.env_id}", f"seed={cfg.seed}",
        f"n_episodes={cfg.n_episodes}", "batch_size=1", "video_episodes=0",
        f"hydra.run.dir={out_dir}", *overrides,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(cfg.omp_threads)}
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return json.loads((out_dir / "results.json").read_text())


def table_row(name: str, results: dict) -> str:
    """One markdown row: variant, success (95% CI), reached, plan p50 / p95 in ms."""
    summary = results["summary"]
    low, high = summary["success_ci95_low"], summary["success_ci95_high"]
    p50, p95 = 1000 * summary["plan_latency_p50_s"], 1000 * summary["plan_latency_p95_s"]
    return (
        f"| {name} | {summary['success_rate']:.3f} ({low:.3f}-{high:.3f}) | "
        f"{summary['reached_rate']:.2f} | {p50:.0f} / {p95:.0f} ms |"
    )


@hydra.main(config_path="conf", config_name="replan_b1", version_base="1.3")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    rows = [
        f"B = 1 on {cfg.env_id}, {cfg.n_episodes} pairs from seed {cfg.seed}, "
        f"OMP_NUM_THREADS={cfg.omp_threads}",
        "",
        "| variant | success (95% CI) | reached | plan p50 / p95 (B = 1) |",
        "|---|---|---|---|",
    ]
    for i, (name, overrides) in enumerate(cfg.variants.items()):
        results = run_variant(cfg, list(overrides), out_dir / f"variant_{i}")
        rows.append(table_row(name, results))
        print(rows[-1], flush=True)
    (out_dir / "replan_b1.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
