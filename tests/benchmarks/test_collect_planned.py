"""benchmarks.collect_planned: episodes of the world model's planner written as a dataset whose
episodes replay exactly in the environment, resumed after a rerun, off the benchmark's seeds."""

import subprocess
import sys

import gymnasium as gym
import numpy as np

import envs  # noqa: F401
from envs.dataset import TrajectoryDataset, read_meta

ENV = "wmplan/PointMaze-v0"


def _collect(out, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.collect_planned", f"out={out}", "n_episodes=3",
         "episode_length=4", "batch_size=2", "seed=7", "threads=1", "planner.n_samples=16",
         "planner.n_elites=4", "planner.n_iters=1", f"hydra.run.dir={out}_hydra", *args],
        capture_output=True, text=True,
    )  # fmt: skip


def test_planned_episodes_replay_in_the_environment_and_a_rerun_resumes(tmp_path):
    out = tmp_path / "planned"
    run = _collect(out)
    assert run.returncode == 0, run.stderr[-2000:]
    dataset = TrajectoryDataset(out)
    assert len(dataset) == 3
    provenance = read_meta(out)["provenance"]
    assert provenance["source"] == "benchmarks.collect_planned" and provenance["seed"] == 7
    env = gym.make(ENV).unwrapped
    for i, episode in enumerate(dataset.episodes()):
        obs, _ = env.reset(seed=7 + i)
        assert episode.actions.shape == (4, 2)
        assert np.all(np.abs(episode.actions) <= 1.0)
        np.testing.assert_array_equal(episode.pixels[0], obs["pixels"])
        for t, action in enumerate(episode.actions):  # the recorded actions replay the episode
            obs, *_ = env.step(action)
            np.testing.assert_array_equal(episode.pixels[t + 1], obs["pixels"])
            np.testing.assert_allclose(episode.states[t + 1], env.task_state(), atol=1e-6)
    files = sorted(p.stat().st_mtime_ns for p in out.glob("episode_*.h5"))
    again = _collect(out)
    assert again.returncode == 0, again.stderr[-2000:]
    assert sorted(p.stat().st_mtime_ns for p in out.glob("episode_*.h5")) == files  # kept


def test_benchmark_seeds_are_refused(tmp_path):
    run = _collect(tmp_path / "planned", "seed=99999")
    assert run.returncode != 0 and "must lie in 0..99999" in run.stderr
