"""Side-by-side benchmarks against the peers: the shared problem, and tiny runs of each app.

The app runs need the optional peers (``pip install -e ".[peers]"``) and skip without them.
"""

import json
import math
import subprocess
import sys

import pytest
import torch

from benchmarks.peers import allow_torchvision_without_ops, import_peer
from benchmarks.pendulum import Pendulum, sequence_energy, terminal_state_cost


def _run(module: str, *overrides: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", module, *overrides], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _step_by_step_cost(problem: Pendulum, start: torch.Tensor, actions: torch.Tensor):
    """Total costs (K,) of sequences (K, H, A), rolled out one step at a time the way
    pytorch_mppi does: a (K, S) state batch, running cost on each next state, terminal cost
    on the stored states (1, K, H, S)."""
    K, H, _ = actions.shape
    state = start.expand(K, problem.state_dim)
    total = torch.zeros(K)
    states = torch.empty(1, K, H, problem.state_dim)
    for t in range(H):
        state = problem.step(state, actions[:, t])
        total = total + problem.running_cost(state, actions[:, t])
        states[0, :, t] = state
    return total + terminal_state_cost(problem)(states, actions[None])[0]


def test_mppi_energy_equals_the_step_by_step_cost():
    problem = Pendulum()
    start = torch.tensor([3.0, -0.5])
    generator = torch.Generator().manual_seed(0)
    actions = 6 * torch.rand((2, 5, 7, 1), generator=generator) - 3  # (B, N, H, A), some saturate
    cost = sequence_energy(problem, start)(actions)
    assert cost.shape == (2, 5)
    for b in range(2):
        torch.testing.assert_close(cost[b], _step_by_step_cost(problem, start, actions[b]))


def test_pendulum_cost_has_known_answers():
    problem = Pendulum(terminal_weight=2.0)
    energy_upright = sequence_energy(problem, torch.tensor([0.0, 0.0]))
    energy_down = sequence_energy(problem, torch.tensor([math.pi, 0.0]))
    still = torch.zeros(1, 1, 4, 1)
    # upright and hanging down are equilibria without torque: 4 running costs plus 2x terminal
    assert energy_upright(still).item() == pytest.approx(0.0, abs=1e-9)
    assert energy_down(still).item() == pytest.approx(6 * math.pi**2, rel=1e-4)
    # torque saturates at max_torque, in the dynamics and in the action cost
    over = torch.full((1, 1, 4, 1), 10.0)
    at_bound = torch.full((1, 1, 4, 1), problem.max_torque)
    torch.testing.assert_close(energy_down(over), energy_down(at_bound))


def test_pytorch_mppi_rolls_out_the_same_cost():
    pytorch_mppi = pytest.importorskip("pytorch_mppi")
    problem = Pendulum()
    start = torch.tensor([3.0, -0.5])
    actions = 4 * torch.rand((6, 5, 1), generator=torch.Generator().manual_seed(1)) - 2
    controller = pytorch_mppi.MPPI(
        problem.step,
        problem.running_cost,
        problem.state_dim,
        noise_sigma=torch.eye(1),
        num_samples=6,
        horizon=5,
        terminal_state_cost=terminal_state_cost(problem),
    )
    controller.state = start
    peer_cost, _, _ = controller._compute_rollout_costs(actions)
    torch.testing.assert_close(peer_cost, sequence_energy(problem, start)(actions[None])[0])


def test_peer_mppi_benchmark_runs(tmp_path):
    pytest.importorskip("pytorch_mppi")
    stdout = _run(
        "benchmarks.peer_mppi",
        "repeats=2",
        "settings=[{n_samples: 16, horizon: 4, n_iters: 2}]",
        f"hydra.run.dir={tmp_path}",
    )
    (row,) = json.loads((tmp_path / "peer_mppi.json").read_text())["rows"]
    assert (row["n_samples"], row["horizon"], row["n_iters"]) == (16, 4, 2)
    assert row["ours_iteration_s"] > 0 and row["peer_iteration_s"] > 0
    assert len(row["ours_costs"]) == len(row["peer_costs"]) == 2
    assert all(math.isfinite(c) for c in row["ours_costs"] + row["peer_costs"])
    assert "ours/peer" in stdout


def test_peer_cem_benchmark_runs(tmp_path):
    allow_torchvision_without_ops()
    pytest.importorskip("stable_worldmodel")
    stdout = _run(
        "benchmarks.peer_cem",
        "batch_sizes=[1,2]",
        "repeats=1",
        "settings=[{n_samples: 12, n_elites: 3, n_iters: 2}]",
        f"hydra.run.dir={tmp_path}",
    )
    rows = json.loads((tmp_path / "peer_cem.json").read_text())["rows"]
    assert [r["batch_size"] for r in rows] == [1, 2]
    for row in rows:
        assert row["ours_plan_s"] > 0 and row["peer_plan_s"] > 0
        assert all(len(e) == row["batch_size"] for e in row["ours_energies"] + row["peer_energies"])
    assert "ours/peer" in stdout


def test_a_missing_peer_names_the_install_command():
    with pytest.raises(ModuleNotFoundError, match=r'pip install -e "\.\[peers\]"'):
        import_peer("wmplan_no_such_peer")
