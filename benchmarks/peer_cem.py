"""Our CEM side by side with stable-worldmodel's `CEMSolver`, on the same learned energy.

The energy is the planning energy of `benchmarks.planner_overhead`: the bundled PointMaze
world model rolls the encoded start of each seeded maze problem forward under the candidate
actions and `GoalDistance("all")` scores the rollout against the encoded goal. Our CEM calls
it directly; the peer calls it through `EnergyModel.get_cost`, which reads the problems'
start and goal tokens from the solver's `info_dict` (the solver repeats each entry over the
samples, so the model reads sample 0) and clamps the candidates to the action bounds. Both
returned plans are scored by the same energy, the peer's clamped to the bounds first (the
actions the environment would execute).

Matched, at each setting: samples per iteration (both include the current mean as one
candidate), elites (the peer's `topk`), iterations (`n_steps`), horizon (the peer's
`PlanConfig.horizon`, with `action_block` 1), the starting distribution (mean 0, the middle
of the [-1, 1] bounds; standard deviation `init_std` for both: the peer's `var_scale`, which
scales a standard deviation despite its name), a full refit to the elites every iteration
(our `alpha` = 0; the peer has no momentum), no floor on the standard deviation, the energy
of clamped actions, float32, the problems (B of them, planned in one call).

Not matched, because the algorithms differ as shipped: the peer refits to its unclamped
samples with the unbiased standard deviation (/(K-1)), ours to the clamped candidates with
/K; the peer returns its final mean (never scored), ours the best candidate scored over all
iterations; the peer runs under `torch.inference_mode`, ours under `torch.no_grad`.

Time per plan is the wall time of one `plan`/`solve` call (the peer's solver is built and
configured outside the timing), the median over `repeats` seeded plans after one warm-up
plan each, ours and the peer's alternating. The peer plans all B problems in one batch
(`batch_size` = B) unless `peer_sequential` is set, when it solves them one after another
(its `batch_size` = 1). Writes ``peer_cem.json`` into the hydra run directory.
Run ``python -m benchmarks.peer_cem`` (needs the peers: ``pip install -e ".[peers]"``).
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from benchmarks.maze_problems import encoded_problems
from benchmarks.peers import import_peer, time_side_by_side
from planner import Cost, GoalDistance, LatentEnergy, Planner, make_planner
from worldmodels.bundled import bundled_world_model
from worldmodels.checkpoint import load_world_model
from worldmodels.world_model import WorldModel


class EnergyModel:
    """Our energy as the model stable-worldmodel's solvers call (its `Costable` protocol).

    The solver's `info_dict` must hold "z_start" (B, 1, P, D) and "z_goal" (B, P, D); the
    solver hands them back repeated over the samples, (B, S, ...).
    """

    def __init__(self, world_model: WorldModel, cost: Cost, low: float, high: float) -> None:
        self.energy = LatentEnergy(world_model, cost)
        self.low = low
        self.high = high

    def get_cost(self, info_dict: dict, action_candidates: Tensor) -> Tensor:
        """Energies (B, S) of candidates (B, S, H, A), clamped to the bounds first."""
        z_start = info_dict["z_start"][:, 0]  # (B, 1, P, D)
        z_goal = info_dict["z_goal"][:, 0]  # (B, P, D)
        return self.energy(z_start, z_goal, action_candidates.clamp(self.low, self.high))


def prepare_ours(
    planner: Planner, energy: Callable[[Tensor], Tensor], batch_size: int, device: str
) -> Callable[[int], Callable[[], Tensor]]:
    """Seed -> our plan for the B problems, returning its actions (B, H, A)."""

    def prepare(seed: int) -> Callable[[], Tensor]:
        generator = torch.Generator(device=device).manual_seed(seed)
        return lambda: planner.plan(energy, batch_size=batch_size, generator=generator).actions

    return prepare


def prepare_peer(
    solver_class: type,
    model: EnergyModel,
    info_dict: dict[str, Tensor],
    action_space: gym.spaces.Box,
    plan_config: object,
    *,
    n_samples: int,
    n_elites: int,
    n_iters: int,
    init_std: float,
    solver_batch_size: int,
    device: str,
) -> Callable[[int], Callable[[], Tensor]]:
    """Seed -> the peer's plan (a fresh, configured `CEMSolver`), returning its final mean
    (B, H, A)."""

    def prepare(seed: int) -> Callable[[], Tensor]:
        solver = solver_class(
            model,
            batch_size=solver_batch_size,
            num_samples=n_samples,
            var_scale=init_std,
            n_steps=n_iters,
            topk=n_elites,
            device=device,
            seed=seed,
        )
        n_envs = action_space.shape[0]
        solver.configure(action_space=action_space, n_envs=n_envs, config=plan_config)

        def plan() -> Tensor:
            with contextlib.redirect_stdout(io.StringIO()):  # it prints its solve time
                return solver.solve(info_dict)["actions"]

        return plan

    return prepare


@hydra.main(config_path="conf", config_name="peer_cem", version_base="1.3")
def main(cfg: DictConfig) -> None:
    solver_class = import_peer("stable_worldmodel.solver").CEMSolver
    plan_config_class = import_peer("stable_worldmodel.policy").PlanConfig
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    wm_path = (
        Path(cfg.world_model) if cfg.world_model else bundled_world_model("wmplan/PointMaze-v0")
    )
    world_model = load_world_model(wm_path, device=cfg.device)
    cost = GoalDistance("all")
    low, high = cfg.low, cfg.high
    model = EnergyModel(world_model, cost, low, high)
    plan_config = plan_config_class(
        horizon=cfg.horizon, receding_horizon=cfg.horizon, action_block=1
    )
    rows = []
    for batch_size in cfg.batch_sizes:
        z_start, z_goal = encoded_problems(world_model, batch_size)  # (B, 1, P, D), (B, P, D)
        energy = LatentEnergy(world_model, cost).bind(z_start, z_goal)

        def final_energy(actions: Tensor, energy=energy) -> list[float]:
            """Energies of the returned plans (B, H, A), clamped to the bounds."""
            with torch.no_grad():
                return energy(actions.clamp(low, high)[:, None])[:, 0].tolist()

        action_space = gym.spaces.Box(low, high, (batch_size, world_model.action_dim), np.float32)
        for setting in cfg.settings:
            ours = make_planner(
                "cem",
                horizon=cfg.horizon,
                action_dim=world_model.action_dim,
                low=low,
                high=high,
                n_samples=setting.n_samples,
                n_elites=setting.n_elites,
                n_iters=setting.n_iters,
                alpha=0.0,
                init_std=cfg.init_std,
                min_std=0.0,
                device=cfg.device,
            )
            prepare = {
                "ours": prepare_ours(ours, energy, batch_size, cfg.device),
                "peer": prepare_peer(
                    solver_class,
                    model,
                    {"z_start": z_start, "z_goal": z_goal},
                    action_space,
                    plan_config,
                    n_samples=setting.n_samples,
                    n_elites=setting.n_elites,
                    n_iters=setting.n_iters,
                    init_std=cfg.init_std,
                    solver_batch_size=1 if cfg.peer_sequential else batch_size,
                    device=cfg.device,
                ),
            }
            times, energies = time_side_by_side(
                prepare,
                final_energy,
                repeats=cfg.repeats,
                seed=cfg.seed,
                device=torch.device(cfg.device),
            )
            row = {"batch_size": batch_size, **OmegaConf.to_container(setting)}
            for name in prepare:
                row[f"{name}_plan_s"] = statistics.median(times[name])
                row[f"{name}_energy"] = statistics.median(float(np.mean(e)) for e in energies[name])
                row[f"{name}_plan_times_s"] = times[name]
                row[f"{name}_energies"] = energies[name]
            row["time_ratio"] = row["ours_plan_s"] / row["peer_plan_s"]
            rows.append(row)

    peer_mode = "sequential B=1 solves" if cfg.peer_sequential else "one batched solve"
    print(f"peer: stable_worldmodel CEMSolver, {peer_mode}; energy: mean over the B problems")
    print(
        f"{'B':>3s} {'N':>5s} {'K':>4s} {'iters':>5s} | {'ours s':>8s} {'peer s':>8s} "
        f"{'ours/peer':>9s} | {'ours energy':>11s} {'peer energy':>11s}"
    )
    for row in rows:
        print(
            f"{row['batch_size']:3d} {row['n_samples']:5d} {row['n_elites']:4d} "
            f"{row['n_iters']:5d} | {row['ours_plan_s']:8.3f} {row['peer_plan_s']:8.3f} "
            f"{row['time_ratio']:9.2f} | {row['ours_energy']:11.5f} {row['peer_energy']:11.5f}"
        )
    out = Path(HydraConfig.get().runtime.output_dir) / "peer_cem.json"
    out.write_text(json.dumps({"rows": rows, "config": OmegaConf.to_container(cfg)}, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
