"""Trajectory dataset: round trip, environment check and crash safety."""

import os
import signal
import subprocess
import sys
import time

import gymnasium as gym
import numpy as np
import pytest

from envs.collect import CollectionJob, collect
from envs.dataset import (
    TrajectoryDataset,
    TrajectoryWriter,
    episode_files,
    episode_index,
    episode_path,
    read_episode,
)


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


def test_the_first_n_episodes_read_as_the_dataset_was_before_it_grew(tmp_path):
    rng = np.random.default_rng(0)
    writer = TrajectoryWriter(tmp_path, env_id="wmplan/PointMaze-v0", env_kwargs={})
    for length in (2, 3, 4):
        for _ in range(length):
            writer.append(_obs(rng), np.zeros(2, np.float32))
        writer.end_episode(_obs(rng))
    first = TrajectoryDataset(tmp_path, n_episodes=2)
    assert len(first) == 2 and [len(e) for e in first.episodes()] == [2, 3]
    with pytest.raises(ValueError, match="has 3 finished episodes, fewer than the 4 asked for"):
        TrajectoryDataset(tmp_path, n_episodes=4)
    with pytest.raises(ValueError, match="n_episodes must be an integer >= 1, got 0"):
        TrajectoryDataset(tmp_path, n_episodes=0)
    episode_path(tmp_path, 1).unlink()  # a gap: the first two files are episodes 0 and 2
    with pytest.raises(ValueError, match=r"lacks some of episodes 0..1 .*episode_000002.h5"):
        TrajectoryDataset(tmp_path, n_episodes=2)


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


def _collect_command(out, n_episodes: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "benchmarks.collect", f"out={out}", f"n_episodes={n_episodes}",
        "episode_length=10", f"workers={workers}", f"hydra.run.dir={out}_hydra",
    ]  # fmt: skip


def test_killed_collection_keeps_every_finished_episode(tmp_path):
    out = tmp_path / "data"
    proc = subprocess.Popen(
        _collect_command(out, 1000, workers=2), stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while len(episode_files(out)) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the command and its worker processes
    proc.wait()
    files = episode_files(out)
    assert 4 <= len(files) < 1000
    # every finished episode reads back bit-identical to a fresh single-process collection
    last = episode_index(files[-1])
    job = CollectionJob(out_dir=str(tmp_path / "ref"), env_id="wmplan/PointMaze-v0",
                        episode_length=10)  # fmt: skip
    collect(job, n_episodes=last + 1, workers=1, progress=False)
    for path in files:
        episode = read_episode(path)
        expected = read_episode(episode_path(job.out_dir, episode_index(path)))
        np.testing.assert_array_equal(episode.pixels, expected.pixels)
        np.testing.assert_array_equal(episode.proprio, expected.proprio)
        np.testing.assert_array_equal(episode.actions, expected.actions)
    # the same command resumes and fills the gaps left by the kill
    resumed = CollectionJob(out_dir=str(out), env_id="wmplan/PointMaze-v0", episode_length=10)
    assert collect(resumed, n_episodes=last + 2, workers=1, progress=False) == last + 2
    assert [episode_index(p) for p in episode_files(out)] == list(range(last + 2))


def test_parallel_collection_equals_single_process(tmp_path):
    jobs = [
        CollectionJob(
            out_dir=str(tmp_path / name),
            env_id="wmplan/Wall-v0",
            episode_length=4,
            policy="noisy_expert",
        )  # fmt: skip
        for name in ("one", "two")
    ]
    assert collect(jobs[0], n_episodes=3, workers=1, progress=False) == 3
    assert collect(jobs[1], n_episodes=3, workers=2, progress=False) == 3
    for a, b in zip(episode_files(jobs[0].out_dir), episode_files(jobs[1].out_dir), strict=True):
        np.testing.assert_array_equal(read_episode(a).pixels, read_episode(b).pixels)
        np.testing.assert_array_equal(read_episode(a).actions, read_episode(b).actions)


def test_collection_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="unknown policy 'greedy'"):
        CollectionJob(out_dir=str(tmp_path), env_id="wmplan/Wall-v0", episode_length=3,
                      policy="greedy")  # fmt: skip
    with pytest.raises(ValueError, match="unknown environment"):
        CollectionJob(out_dir=str(tmp_path), env_id="wmplan/Nope-v0", episode_length=3)


def test_live_writer_continues_after_the_highest_index(tmp_path):
    rng = np.random.default_rng(0)
    writer = TrajectoryWriter(tmp_path, env_id="e", env_kwargs={})
    for _ in range(3):
        writer.append(_obs(rng), np.zeros(2))
        writer.end_episode(_obs(rng))
    episode_path(tmp_path, 1).unlink()  # a gap, as a killed parallel collection can leave
    writer = TrajectoryWriter(tmp_path, env_id="e", env_kwargs={})
    writer.append(_obs(rng), np.zeros(2))
    assert writer.end_episode(_obs(rng)) == episode_path(tmp_path, 3)


def test_task_states_round_trip_and_are_all_or_nothing(tmp_path):
    rng = np.random.default_rng(0)
    writer = TrajectoryWriter(tmp_path, env_id="e", env_kwargs={})
    states = rng.normal(size=(4, 6)).astype(np.float32)
    for state in states[:-1]:
        writer.append(_obs(rng), np.zeros(2), state=state)
    writer.end_episode(_obs(rng), final_state=states[-1])
    writer.append(_obs(rng), np.zeros(2))  # an episode without states: none recorded
    writer.end_episode(_obs(rng))
    first, second = TrajectoryDataset(tmp_path).episodes()
    np.testing.assert_array_equal(first.states, states)
    assert second.states is None
    writer.append(_obs(rng), np.zeros(2), state=states[0])
    with pytest.raises(ValueError, match="states given for 1 of the episode's 2 observations"):
        writer.end_episode(_obs(rng))


def test_collection_records_the_task_state_of_every_observation(tmp_path):
    job = CollectionJob(out_dir=str(tmp_path), env_id="wmplan/PushT-v0", episode_length=3,
                        seed=7, policy="noisy_expert", env_kwargs={"image_size": 16})  # fmt: skip
    collect(job, n_episodes=1, workers=1, progress=False)
    episode = TrajectoryDataset(tmp_path).episode(0)
    env = gym.make("wmplan/PushT-v0", image_size=16).unwrapped
    env.reset(seed=7)
    assert episode.states.shape == (4, 6)
    np.testing.assert_array_equal(episode.states[0], env.task_state())
    np.testing.assert_array_equal(episode.states[:, 4:], episode.proprio[:, :2])  # the pusher
