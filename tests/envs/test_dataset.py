"""Trajectory dataset: round trip, environment check and crash safety."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from envs.collect import collect
from envs.dataset import TrajectoryDataset, TrajectoryWriter, episode_files, read_episode


def _obs(rng, size=8):
    return {
        "pixels": rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
        "proprio": rng.normal(size=4).astype(np.float32),
    }


def test_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    writer = TrajectoryWriter(tmp_path, env_id="wmplan/PointMaze-v0", env_kwargs={"image_size": 8})
    written = []
    for length in (3, 5):
        steps = [(_obs(rng), rng.uniform(-1, 1, 2).astype(np.float32)) for _ in range(length)]
        final = _obs(rng)
        for obs, action in steps:
            writer.append(obs, action)
        writer.end_episode(final)
        written.append((steps, final))
    ds = TrajectoryDataset(tmp_path, env_id="wmplan/PointMaze-v0")
    assert len(ds) == 2 and ds.meta["env_kwargs"] == {"image_size": 8}
    for (steps, final), episode in zip(written, ds.episodes(), strict=True):
        np.testing.assert_array_equal(
            episode.pixels[:-1], np.stack([o["pixels"] for o, _ in steps])
        )
        np.testing.assert_array_equal(episode.pixels[-1], final["pixels"])
        np.testing.assert_array_equal(episode.proprio[-1], final["proprio"])
        np.testing.assert_array_equal(episode.actions, np.stack([a for _, a in steps]))
        assert len(episode) == len(steps)


def test_dataset_from_another_environment_is_rejected(tmp_path):
    rng = np.random.default_rng(0)
    writer = TrajectoryWriter(tmp_path, env_id="wmplan/Other-v0", env_kwargs={})
    writer.append(_obs(rng), np.zeros(2))
    writer.end_episode(_obs(rng))
    with pytest.raises(
        ValueError, match="collected on wmplan/Other-v0, expected wmplan/PointMaze-v0"
    ):
        TrajectoryDataset(tmp_path, env_id="wmplan/PointMaze-v0")
    with pytest.raises(ValueError, match="cannot append"):
        TrajectoryWriter(tmp_path, env_id="wmplan/PointMaze-v0", env_kwargs={})


def test_missing_and_corrupted_files_are_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="meta.json"):
        TrajectoryDataset(tmp_path)
    rng = np.random.default_rng(0)
    writer = TrajectoryWriter(tmp_path, env_id="e", env_kwargs={})
    writer.append(_obs(rng), np.zeros(2))
    path = writer.end_episode(_obs(rng))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="could not read episode"):
        read_episode(path)


COLLECTOR = """
import sys
from envs.collect import collect
collect(sys.argv[1], "wmplan/PointMaze-v0", n_episodes=1000, episode_length=10, seed=0,
        progress=False)
"""


def test_killed_collection_keeps_every_finished_episode(tmp_path):
    out = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-c", COLLECTOR, str(out)])
    deadline = time.monotonic() + 60
    while len(episode_files(out)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    files = episode_files(out)
    assert 3 <= len(files) < 1000
    ds = TrajectoryDataset(out)
    # every finished episode reads back bit-identical to a fresh collection of the same seeds
    ref = tmp_path / "ref"
    collect(
        ref, "wmplan/PointMaze-v0", n_episodes=len(files), episode_length=10, seed=0, progress=False
    )
    for i, episode in enumerate(ds.episodes()):
        expected = read_episode(episode_files(ref)[i])
        np.testing.assert_array_equal(episode.pixels, expected.pixels)
        np.testing.assert_array_equal(episode.proprio, expected.proprio)
        np.testing.assert_array_equal(episode.actions, expected.actions)
    # collection resumes where it stopped
    collect(
        out,
        "wmplan/PointMaze-v0",
        n_episodes=len(files) + 2,
        episode_length=10,
        seed=0,
        progress=False,
    )
    assert len(episode_files(out)) == len(files) + 2
