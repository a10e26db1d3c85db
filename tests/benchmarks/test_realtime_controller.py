"""The real-time loop's asynchronous controller refuses settings it cannot honour: the bundled
Cube model's planning defaults ask for the goal policy's warm start, which it does not have."""

import subprocess
import sys


def test_async_refuses_a_goal_policy_prior(tmp_path):
    command = [sys.executable, "-m", "benchmarks.realtime_loop", "env_id=wmplan/Cube-v0",
               "controller.replan_every=1", "controllers=[async]", "n_episodes=1",
               "max_steps=1", f"hydra.run.dir={tmp_path}"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "controller.policy_prior=null" in done.stderr
