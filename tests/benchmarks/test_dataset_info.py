"""wmplan-dataset (summary and episode video) and wmplan-import on datasets with known contents.

The apps run as they are run from the command line, in a subprocess (no test imports an app).
"""

import io
import json
import os
import re
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from benchmarks.videos import episode_video
from envs.dataset import Episode, TrajectoryDataset, TrajectoryWriter, write_episode

# dim 0 runs 1..9 over the 9 steps of the three episodes, dim 1 is always -2
LENGTHS = (2, 3, 4)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("info") / "data"
    TrajectoryWriter(root, env_id="test/Known-v0", env_kwargs={"image_size": 5})
    first = 1
    for ep, length in enumerate(LENGTHS):
        dim0 = np.arange(first, first + length, dtype=np.float32)
        first += length
        actions = np.stack([dim0, np.full(length, -2.0, np.float32)], axis=1)
        pixels = np.zeros((length + 1, 5, 7, 3), np.uint8)
        write_episode(
            root / f"episode_{ep:06d}.h5",
            Episode(pixels, np.zeros((length + 1, 4), np.float32), actions),
        )
    return root


def _app(module: str, *overrides: str, cwd) -> subprocess.CompletedProcess:
    """Runs ``python -m benchmarks.<module> overrides...`` in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *overrides],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "HYDRA_FULL_ERROR": "1"},
    )


def test_summary_numbers(data, tmp_path):
    done = _app("dataset_info", f"path={data}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "test/Known-v0  {'image_size': 5}" in out
    assert re.search(r"episodes\s+3\n", out) and re.search(r"steps\s+9\s+\(frames: 12\)", out)
    assert re.search(r"length\s+min 2\s+mean 3.00\s+max 4", out)
    assert "pixels       (5, 7, 3)" in out and "proprio      (4,)" in out
    assert "actions      (2,)" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[-2:]}
    np.testing.assert_allclose(
        np.array(rows["0"], float), [5.0, np.std(np.arange(1, 10)), 1, 9], atol=1e-3
    )
    np.testing.assert_allclose(np.array(rows["1"], float), [-2, 0, -2, -2])


def test_episode_video_through_the_command_line(data, tmp_path):
    out = tmp_path / "ep2.mp4"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.dataset_info",
            f"path={data}",
            "video=2",
            f"out={out}",
            "scale=3",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "episodes     3" in done.stdout and "5 frames written" in done.stdout
    frames = iio.imread(out, plugin="FFMPEG", index=None)
    assert frames.shape == (5, 16, 22, 3)  # T+1 frames, 5x7 upscaled 3x and padded to even sides


def test_step_index_is_drawn():
    frames = episode_video(np.zeros((12, 64, 64, 3), np.uint8), scale=1)
    seven = np.array([[1, 1, 1], [0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 1]]) * 255
    np.testing.assert_array_equal(frames[7, 1:6, 1:4, 0], seven)
    one = np.array([[0, 1, 0], [1, 1, 0], [0, 1, 0], [0, 1, 0], [1, 1, 1]]) * 255
    np.testing.assert_array_equal(frames[11, 1:6, 1:4, 0], one)  # "11": two glyphs
    np.testing.assert_array_equal(frames[11, 1:6, 5:8, 0], one)
    assert frames[11, 7:].max() == 0 and frames[11, :, 9:].max() == 0


def test_video_episode_out_of_range(data, tmp_path):
    done = _app("dataset_info", f"path={data}", "video=3", cwd=tmp_path)
    assert done.returncode != 0
    assert re.search(r"ValueError: video=3: the dataset has episodes 0..2", done.stderr)


def test_import_app(tmp_path):
    source = tmp_path / "robot"
    features = {
        "observation.state": {"dtype": "float32", "shape": [2]},
        "action": {"dtype": "float32", "shape": [1]},
        "observation.image": {"dtype": "image", "shape": [6, 6, 3]},
    }
    info = {
        "codebase_version": "v2.0",
        "fps": 5,
        "chunks_size": 1000,
        "features": features,
        "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
    }
    (source / "meta").mkdir(parents=True)
    (source / "meta" / "info.json").write_text(json.dumps(info))
    (source / "meta" / "episodes.jsonl").write_text('{"episode_index": 0, "length": 3}\n')
    pngs = []
    for t in range(3):
        buffer = io.BytesIO()
        Image.fromarray(np.full((6, 6, 3), 40 * t, np.uint8)).save(buffer, format="PNG")
        pngs.append({"bytes": buffer.getvalue(), "path": None})
    table = pa.table(
        {
            "observation.state": [[t, 0.0] for t in range(3)],
            "action": [[0.5 * t] for t in range(3)],
            "observation.image": pngs,
        }
    )
    (source / "data" / "chunk-000").mkdir(parents=True)
    pq.write_table(table, source / "data" / "chunk-000" / "episode_000000.parquet")
    out = tmp_path / "imported"
    done = _app("import_dataset", f"source={source}", f"out={out}", "image_size=3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = done.stdout
    assert "imported 1 episodes" in printed and "environment  lerobot/robot" in printed
    (episode,) = TrajectoryDataset(out).episodes()
    assert episode.pixels.shape == (3, 3, 3, 3)
    np.testing.assert_array_equal(episode.actions, [[0.0], [0.5]])
