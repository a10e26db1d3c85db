"""The environment-suite benchmarks: reach rates, collection speed, videos per environment."""

import json
import subprocess
import sys

import imageio.v3 as iio

from envs.policies import episode_outcome


def _run(module: str, *overrides: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module, *overrides], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_expert_reaches_a_benchmark_goal_that_standing_still_misses():
    assert episode_outcome("wmplan/Wall-v0", "expert", 100000) == (True, True)


def test_reach_rates_app(tmp_path):
    _run("benchmarks.reach_rates", "env_ids=[wmplan/Wall-v0]", "n_episodes=2",
         f"hydra.run.dir={tmp_path}")  # fmt: skip
    rates = json.loads((tmp_path / "reach_rates.json").read_text())["rates"]["wmplan/Wall-v0"]
    assert rates["expert"] == {"final": 1.0, "any_step": 1.0}
    assert 0.0 <= rates["random"]["final"] <= rates["random"]["any_step"] <= 1.0
    # results.json, as the results report reads it: every pair, the registered budget
    runs = json.loads((tmp_path / "results.json").read_text())
    assert runs["kind"] == "reach_rates"
    by_policy = {run["policy"]: run for run in runs["runs"]}
    assert sorted(by_policy) == ["expert", "random"]
    for policy, run in by_policy.items():
        assert run["env_id"] == "wmplan/Wall-v0"
        assert run["max_steps"] == 50 and run["seed"] == 100000
        assert [e["seed"] for e in run["episodes"]] == [100000, 100001]
        assert run["summary"]["n_episodes"] == 2
        assert run["summary"]["success_rate"] == rates[policy]["final"]
        assert run["summary"]["reached_rate"] == rates[policy]["any_step"]
        assert all(e["reached"] or not e["success"] for e in run["episodes"])


def test_collect_speed_app(tmp_path):
    _run("benchmarks.collect_speed", "env_ids=[wmplan/Reacher-v0]", "n_episodes=2",
         "episode_length=3", f"hydra.run.dir={tmp_path}")  # fmt: skip
    result = json.loads((tmp_path / "collect_speed.json").read_text())["results"]
    entry = result["wmplan/Reacher-v0"]
    assert entry["single"]["steps_per_s"] > 0 and entry["parallel"]["steps_per_s"] > 0
    ratio = entry["parallel"]["steps_per_s"] / entry["single"]["steps_per_s"]
    assert abs(entry["speedup"] - ratio) < 1e-9
    # frames: 3 steps plus start and goal images per episode
    single = entry["single"]
    assert abs(single["frames_per_s"] / single["steps_per_s"] - 5 / 3) < 1e-9


def test_env_videos_app(tmp_path):
    _run("benchmarks.env_videos", "env_ids=[wmplan/Wall-v0]", "n_steps=5", "scale=2",
         f"out={tmp_path}", f"hydra.run.dir={tmp_path / 'h'}")  # fmt: skip
    video = iio.imread(tmp_path / "Wall-v0.mp4", plugin="FFMPEG")
    assert video.shape == (6, 128, 256, 3)  # 5 steps + the reset frame; 64x64 obs | goal, x2
