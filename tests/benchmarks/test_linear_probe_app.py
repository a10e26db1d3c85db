"""Smoke test of benchmarks.linear_probe on a tiny collected dataset."""

import json
import subprocess
import sys

from worldmodels.linear_probe import split_episodes


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


def test_split_is_first_and_last_or_a_seeded_mix():
    assert split_episodes(10, 6, 3, None) == ([0, 1, 2, 3, 4, 5], [7, 8, 9])
    train, test = split_episodes(100, 80, 20, 0)
    assert len(train) == 80 and len(test) == 20 and not set(train) & set(test)
    assert split_episodes(100, 80, 20, 0) == (train, test)  # the seed fixes it
    # the last fifth (stored last, e.g. another policy's episodes) reaches both sets
    assert any(i >= 80 for i in train) and any(i < 80 for i in test)
