"""The quality-versus-compute benchmark: its closed-form LQ optimum, its counter, end to end."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from scipy.optimize import minimize

from benchmarks.linear_quadratic import LinearQuadratic
from benchmarks.quality_curves import CountingEnergy, value_at
from benchmarks.quality_problems import lq_problem
from planner import make_planner

PLANNERS = ("cem", "icem", "mppi", "gd", "adam", "gradcem")


def tiny_problem() -> tuple[LinearQuadratic, torch.Tensor]:
    problem = LinearQuadratic.double_integrator(
        horizon=4,
        dt=0.3,
        position_weight=1.0,
        velocity_weight=0.1,
        action_weight=0.1,
        terminal_factor=10.0,
    )
    x0 = torch.tensor([[1.0, -0.5, 0.2, 0.3], [-0.7, 0.4, -0.5, 0.1]], dtype=torch.float64)
    return problem, x0


def test_lq_optimum_has_zero_gradient_and_no_better_neighbour():
    problem, x0 = tiny_problem()
    optimum = problem.optimum(x0)[:, None].requires_grad_()  # (B, 1, H, A)
    cost = problem.cost(x0, optimum)  # (B, 1)
    (grad,) = torch.autograd.grad(cost.sum(), optimum)
    assert grad.abs().max() < 1e-10
    generator = torch.Generator().manual_seed(0)
    perturbed = optimum.detach() + 0.01 * torch.randn(2, 256, 4, 2, generator=generator).double()
    assert (problem.cost(x0, perturbed) > cost.detach()).all()


def test_lq_optimum_matches_a_numerical_minimiser():
    problem, x0 = tiny_problem()
    optimum = problem.optimum(x0)
    for b in range(x0.shape[0]):

        def cost(u: np.ndarray, b: int = b) -> float:
            actions = torch.from_numpy(u).reshape(1, 1, 4, 2)
            return problem.cost(x0[b : b + 1], actions).item()

        found = minimize(cost, np.zeros(8), method="BFGS", options={"gtol": 1e-10})
        np.testing.assert_allclose(found.x.reshape(4, 2), optimum[b].numpy(), atol=1e-5)
        assert found.fun == pytest.approx(cost(optimum[b].numpy().ravel()), rel=1e-9)


def test_optimum_outside_the_bounds_is_rejected():
    cfg = OmegaConf.create(
        {
            "batch_size": 2,
            "seed": 0,
            "position_scale": 1.0,
            "velocity_scale": 0.5,
            "horizon": 10,
            "dt": 0.3,
            "position_weight": 1.0,
            "velocity_weight": 0.1,
            "action_weight": 0.1,
            "terminal_factor": 10.0,
            "low": -0.1,
            "high": 0.1,
            "planners": {},
        }
    )
    with pytest.raises(ValueError, match="outside the bounds"):
        lq_problem(cfg, seeds=1)


def test_counter_matches_the_trace_and_counts_every_candidate():
    problem, x0 = tiny_problem()
    planner = make_planner(
        "icem", horizon=4, action_dim=2, low=-3.0, high=3.0, n_samples=20, n_elites=5, n_iters=6
    )
    counter = CountingEnergy(lambda actions: problem.cost(x0, actions).float(), batch_size=2)
    result = planner.plan(counter, batch_size=2, generator=torch.Generator().manual_seed(0))
    # One call per iCEM iteration: the mean, the kept elites and the decaying population.
    n_keep = int(planner.keep_elites * planner.n_elites)
    expected = np.cumsum([1 + (i > 0) * n_keep + planner.population(i) for i in range(6)])
    assert [count for count, _, _ in counter.curve] == expected.tolist()
    best = torch.stack([best for _, best, _ in counter.curve])  # (n_iters, B)
    torch.testing.assert_close(best.float(), result.trace["best_cost"])


def test_value_at_reads_the_last_call_within_the_budget():
    summary = {"evaluations": [50, 150, 250], "median": [3.0, 2.0, 1.0]}
    assert value_at(summary, 40) is None
    assert value_at(summary, 200) == 2.0
    assert value_at(summary, 250) == 1.0
    assert value_at(summary, 1000) is None


def test_app_end_to_end(tmp_path):
    overrides = [
        f"{problem}.planners.{name}.n_iters=3"
        for problem in ("lq", "world_model")
        for name in PLANNERS
    ]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.planner_quality",
            "seeds=2",
            "lq.batch_size=3",
            "world_model.batch_size=2",
            "world_model.planners.gd.n_restarts=4",
            "world_model.planners.adam.n_restarts=4",
            *overrides,
            f"hydra.run.dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "final" in done.stdout
    assert (tmp_path / "planner_quality.png").stat().st_size > 0
    problems = json.loads((tmp_path / "planner_quality.json").read_text())["problems"]
    assert set(problems) == {"lq", "world_model"}
    for key, problem in problems.items():
        assert set(problem["planners"]) == set(PLANNERS)
        for curve in problem["planners"].values():
            assert np.all(np.diff(curve["evaluations"]) > 0)
            for values in (curve["median"], curve["min"], curve["max"]):
                assert np.all(np.isfinite(values))
                assert np.all(np.diff(values) <= 0), "best so far must never increase"
                if key == "lq":
                    assert min(values) >= -1e-4, "no planner may beat the closed-form optimum"
                else:
                    assert min(values) >= 1.0 - 1e-6, "the best found is the lowest energy"
