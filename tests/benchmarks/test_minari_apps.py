"""wmplan-export and wmplan-import through Minari, then wmplan-train on the imported dataset.

The apps run as they are run from the command line, in a subprocess (no test imports an app).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("minari")

from envs.collect import CollectionJob, collect  # noqa: E402
from envs.dataset import TrajectoryDataset  # noqa: E402

ENCODER = Path(__file__).parents[2] / "worldmodels/assets/pointmaze/encoder"


def _app(module: str, *overrides: str, cwd: Path) -> str:
    """Runs ``python -m benchmarks.<module> overrides...`` in ``cwd``; returns its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *overrides],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "HYDRA_FULL_ERROR": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_export_import_and_train(tmp_path):
    ours, back, wm, root = (tmp_path / n for n in ("ours", "back", "wm", "minari"))
    job = CollectionJob(str(ours), "wmplan/PointMaze-v0", 4, env_kwargs={"image_size": 64})
    collect(job, n_episodes=3, workers=1, progress=False)
    printed = _app(
        "export_dataset",
        f"source={ours}",
        "dataset_id=wmplan/pointmaze/test-v1",
        f"minari_root={root}",
        "author=test",
        cwd=tmp_path,
    )
    assert "exported 3 episodes (12 steps)" in printed
    assert (root / "wmplan/pointmaze/test-v1/data/main_data.hdf5").is_file()
    printed = _app(
        "import_dataset",
        "source=wmplan/pointmaze/test-v1",
        f"out={back}",
        f"minari_root={root}",
        cwd=tmp_path,
    )
    assert "imported 3 episodes" in printed
    assert "environment  minari/wmplan/pointmaze/test-v1" in printed
    for a, b in zip(
        TrajectoryDataset(ours).episodes(), TrajectoryDataset(back).episodes(), strict=True
    ):
        np.testing.assert_array_equal(a.pixels, b.pixels)
        np.testing.assert_array_equal(a.actions, b.actions)
    _app(
        "train",
        "mode=predictor",
        f"dataset={back}",
        "env_id=minari/wmplan/pointmaze/test-v1",
        f"encoder={ENCODER}",
        f"out={wm}",
        "train.steps=2",
        "train.batch_size=4",
        f"hydra.run.dir={tmp_path / 'train'}",
        cwd=tmp_path,
    )
    meta = json.loads((wm / "world_model.json").read_text())
    assert meta["extra"]["env_kwargs"]["dataset_id"] == "wmplan/pointmaze/test-v1"
