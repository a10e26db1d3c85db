"""Smoke test of benchmarks.plan_speed on tiny budgets, for both model sizes."""

import json
import subprocess
import sys

import pytest

TINY = ["planner.n_samples=8", "planner.n_elites=2", "planner.n_iters=2", "repeats=1"]
EAGER_ONLY = ["~variants.compiled_fp32", "~variants.compiled_bf16"]


@pytest.mark.parametrize("model", ["bundled", "dinowm"])
def test_plan_speed_writes_one_row_per_variant(tmp_path, model):
    overrides = [f"model={model}", "dinowm.tokens=4", "dinowm.token_dim=8", *TINY, *EAGER_ONLY]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.plan_speed", *overrides, f"hydra.run.dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "plan_speed.json").read_text())
    rows = {row["variant"]: row for row in report["rows"]}
    assert set(rows) == {"eager_fp32", "eager_bf16"}
    assert rows["eager_bf16"]["bf16"] and not rows["eager_fp32"]["bf16"]
    assert all(row["plan_s"] > 0 and row["final_energy"] >= 0 for row in rows.values())
