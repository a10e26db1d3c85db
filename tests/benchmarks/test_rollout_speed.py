"""Smoke test of benchmarks.rollout_speed on a tiny predictor."""

import json
import subprocess
import sys


def test_rollout_speed_reports_both_variants_and_the_ceiling(tmp_path):
    overrides = [
        "n_candidates=8",
        "history=2",
        "horizon=3",
        "num_hist=4",
        "repeats=1",
        "matmul_size=64",
        f"hydra.run.dir={tmp_path}",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.rollout_speed", *overrides],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "rollout_speed.json").read_text())
    uncached, cached = report["rows"]
    assert (uncached["variant"], cached["variant"]) == ("uncached", "cached")
    assert report["max_abs_difference"] < 1e-5
    # The cache computes each frame once: fewer FLOPs for the same predictions.
    assert cached["flops"] < uncached["flops"]
    assert report["matmul_flop_per_s"] > 0
