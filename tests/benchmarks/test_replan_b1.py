"""Smoke test of benchmarks.replan_b1: each variant is a B = 1 wmplan-bench run with its
overrides, and the table has one row per variant."""

import json
import subprocess
import sys

TINY = "'planner.n_samples=8','planner.n_elites=2','planner.n_iters=1'"


def test_one_b1_run_and_row_per_variant(tmp_path):
    variants = f"+variants={{tiny:[{TINY}],tiny_null:[{TINY},'controller.null_candidate=true']}}"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.replan_b1", "n_episodes=1", "~variants", variants,
         f"hydra.run.dir={tmp_path}"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = (tmp_path / "replan_b1.md").read_text().splitlines()[4:]
    assert [row.split(" | ")[0] for row in rows] == ["| tiny", "| tiny_null"]
    for i, null in enumerate([False, True]):
        results = json.loads((tmp_path / f"variant_{i}" / "results.json").read_text())
        assert results["summary"]["plan_batch_size"] == 1
        assert results["config"]["planner"]["n_samples"] == 8
        assert results["config"]["controller"]["null_candidate"] is null
