"""Our MPPI side by side with pytorch_mppi's, on the same dynamics and cost.

The problem is a pendulum swing-up written once in torch and batched over any leading
dimensions: Gymnasium's Pendulum-v1 dynamics (torque saturated at +-2, speed clipped at
+-8 rad/s) from hanging down at rest, with Pendulum-v1's running cost on each next state and
action plus a weighted terminal cost on the last state. Our planner scores candidates with
`sequence_energy` (actions (B, N, H, A) -> cost (B, N), rolling the same `step`,
`running_cost` and `terminal_cost` forward); `pytorch_mppi.MPPI` gets those same callables
as `dynamics`, `running_cost` and `terminal_state_cost`. Each returned sequence is scored by
the same `Pendulum.sequence_cost`.

Matched, at each setting: K candidate sequences scored per iteration (ours: the current mean
plus K - 1 perturbations; the peer: K perturbations), horizon T, iterations per plan (the
peer: that many `command(state, shift_nominal_trajectory=False)` calls on a fresh
controller, so the nominal sequence is refined in place, not shifted), Gaussian noise of
standard deviation `noise_std` (the peer's covariance is `noise_std**2 * I`), temperature
lambda, bounds (the peer clamps perturbed actions to u_min/u_max, ours clamps candidates and
mean), the starting sequence (all zeros: the peer's `U_init`, our default middle of the
bounds), float32, one problem (our B = 1), the torch thread count.

Both weight the perturbations as scored, after clamping. Not matched, because the
algorithms differ as shipped: the peer adds Williams et al.'s control cost
lambda * U^T Sigma^-1 eps to each sample's cost before weighting; ours applies none. The
peer returns its nominal sequence after the last update (never scored, possibly outside the
bounds; the dynamics saturate it) and ours the best candidate scored over all iterations.

Time per iteration is the wall time of a whole plan divided by its iterations, the median
over `repeats` seeded plans after one warm-up plan each, ours and the peer's alternating.
Writes ``peer_mppi.json`` into the hydra run directory.
Run ``python -m benchmarks.peer_mppi`` (needs the peers: ``pip install -e ".[peers]"``).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from benchmarks.peers import import_peer, time_side_by_side
from benchmarks.pendulum import Pendulum, sequence_energy, terminal_state_cost
from planner import Planner, make_planner


def prepare_ours(
    planner: Planner, energy: Callable[[Tensor], Tensor], device: torch.device
) -> Callable[[int], Callable[[], Tensor]]:
    """Seed -> our plan for one problem, returning its actions (H, A)."""

    def prepare(seed: int) -> Callable[[], Tensor]:
        generator = torch.Generator(device=device).manual_seed(seed)
        return lambda: planner.plan(energy, batch_size=1, generator=generator).actions[0]

    return prepare


def prepare_peer(
    pytorch_mppi: ModuleType,
    problem: Pendulum,
    start: Tensor,
    *,
    n_samples: int,
    horizon: int,
    n_iters: int,
    noise_std: float,
    temperature: float,
    device: torch.device,
) -> Callable[[int], Callable[[], Tensor]]:
    """Seed -> the peer's plan (a fresh `pytorch_mppi.MPPI`, refined `n_iters` times in
    place), returning its nominal sequence (H, A)."""
    bound = torch.full((problem.action_dim,), problem.max_torque, device=device)

    def prepare(seed: int) -> Callable[[], Tensor]:
        controller = pytorch_mppi.MPPI(
            problem.step,
            problem.running_cost,
            problem.state_dim,
            noise_sigma=noise_std**2 * torch.eye(problem.action_dim, device=device),
            num_samples=n_samples,
            horizon=horizon,
            device=device,
            terminal_state_cost=terminal_state_cost(problem),
            lambda_=temperature,
            u_min=-bound,
            u_max=bound,
            U_init=torch.zeros(horizon, problem.action_dim, device=device),
        )
        torch.manual_seed(seed)  # the peer draws from torch's global generator

        def plan() -> Tensor:
            for _ in range(n_iters):
                controller.command(start, shift_nominal_trajectory=False)
            return controller.get_action_sequence()

        return plan

    return prepare


@hydra.main(config_path="conf", config_name="peer_mppi", version_base="1.3")
def main(cfg: DictConfig) -> None:
    pytorch_mppi = import_peer("pytorch_mppi")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device(cfg.device)
    problem = Pendulum(**OmegaConf.to_container(cfg.pendulum))
    start = torch.tensor(OmegaConf.to_container(cfg.start), dtype=torch.float32, device=device)
    energy = sequence_energy(problem, start)
    rows = []
    for setting in cfg.settings:
        n_samples, horizon, n_iters = setting.n_samples, setting.horizon, setting.n_iters
        ours = make_planner(
            "mppi",
            horizon=horizon,
            action_dim=problem.action_dim,
            low=-problem.max_torque,
            high=problem.max_torque,
            n_samples=n_samples,
            n_iters=n_iters,
            noise_std=cfg.noise_std,
            temperature=cfg.temperature,
            smoothing=0.0,
            device=device,
        )
        prepare = {
            "ours": prepare_ours(ours, energy, device),
            "peer": prepare_peer(
                pytorch_mppi,
                problem,
                start,
                n_samples=n_samples,
                horizon=horizon,
                n_iters=n_iters,
                noise_std=cfg.noise_std,
                temperature=cfg.temperature,
                device=device,
            ),
        }
        times, costs = time_side_by_side(
            prepare,
            lambda actions: problem.sequence_cost(start, actions).item(),
            repeats=cfg.repeats,
            seed=cfg.seed,
            device=device,
        )
        row = {"n_samples": n_samples, "horizon": horizon, "n_iters": n_iters}
        for name in prepare:
            row[f"{name}_iteration_s"] = statistics.median(times[name]) / n_iters
            row[f"{name}_cost"] = statistics.median(costs[name])
            row[f"{name}_plan_times_s"] = times[name]
            row[f"{name}_costs"] = costs[name]
        row["time_ratio"] = row["ours_iteration_s"] / row["peer_iteration_s"]
        rows.append(row)

    print(
        f"{'K':>5s} {'T':>3s} {'iters':>5s} | {'ours ms/it':>10s} {'peer ms/it':>10s} "
        f"{'ours/peer':>9s} | {'ours cost':>9s} {'peer cost':>9s}"
    )
    for row in rows:
        print(
            f"{row['n_samples']:5d} {row['horizon']:3d} {row['n_iters']:5d} | "
            f"{row['ours_iteration_s'] * 1e3:10.2f} {row['peer_iteration_s'] * 1e3:10.2f} "
            f"{row['time_ratio']:9.2f} | {row['ours_cost']:9.2f} {row['peer_cost']:9.2f}"
        )
    out = Path(HydraConfig.get().runtime.output_dir) / "peer_mppi.json"
    out.write_text(json.dumps({"rows": rows, "config": OmegaConf.to_container(cfg)}, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
