"""Smoke test of benchmarks.train_speed on a tiny predictor."""

import json
import subprocess
import sys

import pytest


def test_train_speed_variants_start_from_the_same_loss(tmp_path):
    overrides = [
        "batch_size=2",
        "steps=2",
        "repeats=1",
        "matmul_size=64",
        "~variants.compiled_fp32",
        "~variants.compiled_bf16",
        f"hydra.run.dir={tmp_path}",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.train_speed", *overrides],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "train_speed.json").read_text())
    fp32, bf16 = report["rows"]
    assert (fp32["variant"], bf16["variant"]) == ("eager_fp32", "eager_bf16")
    # Same weights and batch: the losses differ only by bf16's rounding (8 mantissa bits).
    assert bf16["first_loss"] == pytest.approx(fp32["first_loss"], rel=2e-2)
    assert report["step_flops"] > 0
    assert all(row["windows_per_s"] > 0 and row["mfu"] > 0 for row in report["rows"])
