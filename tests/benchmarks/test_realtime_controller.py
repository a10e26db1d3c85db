"""The real-time loop runs the asynchronous controller with the bundled Cube model's planning
defaults, which search around the goal policy's plan: the option reaches the controller."""

import json
import subprocess
import sys


def test_async_plans_around_the_goal_policy_in_the_loop(tmp_path):
    command = [sys.executable, "-m", "benchmarks.realtime_loop", "env_id=wmplan/Cube-v0",
               "controller.replan_every=1", "controllers=[async]", "n_episodes=1",
               "max_steps=4", f"hydra.run.dir={tmp_path}"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["config"]["controller"]["policy_prior"] == "warm_start"
    assert results["controllers"]["async"]["ticks"] >= 1
