"""Smoke test of benchmarks.linear_probe on a tiny collected dataset."""

import json
import subprocess
import sys


def _run(module, *overrides):
    done = subprocess.run(
        [sys.executable, "-m", module, *overrides], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_linear_probe_reports_every_encoder(tmp_path):
    data = tmp_path / "data"
    _run("benchmarks.collect", f"out={data}", "n_episodes=6", "episode_length=8",
         f"hydra.run.dir={tmp_path / 'h1'}")  # fmt: skip
    _run("benchmarks.linear_probe", f"dataset={data}", "n_train_episodes=5",
         "n_test_episodes=1", f"hydra.run.dir={tmp_path / 'h2'}")  # fmt: skip
    report = json.loads((tmp_path / "h2" / "linear_probe.json").read_text())
    assert [row["encoder"] for row in report["rows"]] == ["in_domain", "random_init"]
    assert all(len(row["r2"]) == 2 and len(row["rmse"]) == 2 for row in report["rows"])
    assert all(-1 <= row["distance_rank_correlation"] <= 1 for row in report["rows"])
    # the maze's task state is the ball's (x, y), the proprio's first two entries: same probe
    _run("benchmarks.linear_probe", f"dataset={data}", "n_train_episodes=5",
         "n_test_episodes=1", "target=states", f"hydra.run.dir={tmp_path / 'h3'}")  # fmt: skip
    of_states = json.loads((tmp_path / "h3" / "linear_probe.json").read_text())
    assert [row["r2"] for row in of_states["rows"]] == [row["r2"] for row in report["rows"]]
