"""``wmplan-bench``: zero-shot planning benchmark from pixels.

For each start/goal pair (seeded, disjoint from the training data's seeds) the
environment renders the goal image, the controller encodes it once, and MPC
plans in the world model's latent space for a fixed budget of environment
steps (``max_steps``; null: the environment's registered budget). Success is
the environment's own test at the end of the budget (``reached_at_any_step``
records whether it held at some step); the planner never sees it. The world
model's planning defaults (``planning.yaml`` beside it, see
``benchmarks.planning_defaults``) apply below the command line. A model with a
frame skip K plans blocks of K raw actions (``MPCController``): the planner's
action dim and bounds are the environment's tiled K times. Writes
``results.json`` (with the effective settings, the step budget and the frame
skip) and videos into the hydra run directory: ``episode_XXX.mp4``
(observation | goal) and, when the world model has a decoder,
``episode_XXX_imagined.mp4`` (real | decoded real | imagined open loop | goal,
one frame per K steps, see ``worldmodels.imagination``).

``dynamics=simulator`` replaces the world model's predictor by the simulator itself
(`benchmarks.simulator_dynamics`): the same encoder, cost and planner with a predictor without
error, the ceiling of the energy and planner. ``energy=task`` (with the simulator) replaces the
energy too, by the environment's own distance to its goal at the plan's end (squared): the
ceiling of the planner and its horizon alone.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

import envs  # noqa: F401  (registers the environments)
from benchmarks.episodes import pair_seeds, run_batch
from benchmarks.planning_defaults import read_planning_defaults, step_budget, user_override_keys
from benchmarks.planning_setup import PlanningSetup, make_controller, planning_setup
from benchmarks.report import format_table, summarize_episodes
from benchmarks.simulator_dynamics import SimulatorDynamics
from benchmarks.videos import write_video
from planner import GoalDistance, MPCController
from planner.hierarchical import HierarchicalController
from worldmodels.checkpoint import load_world_model_decoder
from worldmodels.imagination import imagined_frames

logger = logging.getLogger(__name__)

DYNAMICS = ("model", "simulator")
ENERGIES = ("model", "task")


@hydra.main(config_path="conf", config_name="bench", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    if cfg.dynamics not in DYNAMICS:
        raise ValueError(f"dynamics must be one of {DYNAMICS}, got {cfg.dynamics!r}")
    if cfg.energy not in ENERGIES:
        raise ValueError(f"energy must be one of {ENERGIES}, got {cfg.energy!r}")
    if cfg.energy == "task" and cfg.dynamics != "simulator":
        raise ValueError("energy=task reads the simulator's state: it needs dynamics=simulator")
    setup = planning_setup(cfg, user_override_keys(HydraConfig.get().overrides.task))
    cfg, wm_path, world_model = setup.cfg, setup.world_model_path, setup.world_model
    model_defaults = read_planning_defaults(wm_path)
    max_steps = step_budget(cfg.max_steps, cfg.env_id)
    if cfg.n_episodes < 1 or cfg.batch_size < 1:
        raise ValueError(
            f"n_episodes and batch_size must be >= 1, got {cfg.n_episodes}, {cfg.batch_size}"
        )
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    env_kwargs = OmegaConf.to_container(cfg.env_kwargs)
    frameskip = world_model.frameskip
    generator = torch.Generator(device=cfg.device).manual_seed(cfg.seed)
    simulator = None
    if cfg.dynamics == "simulator":
        check_simulator_settings(setup)
        simulator = SimulatorDynamics(world_model, task_distance=cfg.energy == "task")
    if cfg.energy == "task":
        setup = task_energy(setup)
    controller = make_controller(setup if simulator is None else replace(setup,
                                 world_model=simulator), generator)  # fmt: skip
    mpc = controller if isinstance(controller, MPCController) else controller.low  # the low level
    seeds = pair_seeds(cfg.seed, cfg.n_episodes, cfg.seeds)
    successes, reached, distances, videos, plan_problems = [], [], [], [], []
    for start in range(0, len(seeds), cfg.batch_size):
        batch = seeds[start : start + cfg.batch_size]
        record = max(0, min(cfg.video_episodes - len(videos), len(batch)))
        s, r, d, episodes = run_batch(controller, cfg.env_id, env_kwargs, batch, max_steps, record,
                                       simulator)  # fmt: skip
        plan_problems += [len(batch)] * (len(mpc.plan_times_s) - len(plan_problems))
        successes.append(s)
        reached.append(r)
        distances.append(d)
        videos.extend(episodes)
    successes, distances = np.concatenate(successes), np.concatenate(distances)
    reached = np.concatenate(reached)
    plan_times = np.array(mpc.plan_times_s)
    summary = summarize_episodes(successes, reached, distances, plan_times, np.array(plan_problems))
    decoder = load_world_model_decoder(wm_path, device=cfg.device) if cfg.imagined_video else None
    for i, episode in enumerate(videos):
        frames = [np.concatenate([o, episode.goal], axis=1) for o in episode.observations]
        write_video(out_dir / f"episode_{i:03d}.mp4", frames)
        if decoder is not None and len(episode.actions) >= frameskip:
            observations, proprio, actions = episode.blocks(frameskip)  # one per model frame
            imagined = imagined_frames(
                world_model,
                decoder,
                observations,
                actions,
                episode.goal,
                proprio if world_model.proprio_dim else None,
            )
            write_video(out_dir / f"episode_{i:03d}_imagined.mp4", imagined)
    config = OmegaConf.to_container(cfg, resolve=True)  # the effective settings
    results = {
        "summary": summary,
        "episodes": [
            {
                "seed": s,
                "success": bool(ok),
                "reached": bool(r),
                "reached_at_any_step": bool(r),
                "final_distance": float(d),
            }
            for s, ok, r, d in zip(seeds, successes, reached, distances, strict=True)
        ],
        "plan_times_s": mpc.plan_times_s,
        "controller": setup.controller_name,
        "dynamics": cfg.dynamics,
        "energy": cfg.energy,
        "rollout_frames_per_step": _frames_per_step(controller, len(seeds) * max_steps),
        "world_model": str(wm_path),
        "frameskip": frameskip,
        "step_budget": max_steps,
        "reached_at_any_step_rate": summary["reached_rate"],
        "planning_defaults": OmegaConf.to_container(model_defaults),  # the model's
        "config": {**config, "max_steps": max_steps},
    }
    if isinstance(controller, HierarchicalController):
        results["high_level_plan_times_s"] = controller.plan_times_s
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    print(format_table(summary, f"wmplan-bench  {cfg.env_id}  planner={cfg.planner.name}"))
    print(f"results and videos in {out_dir}")
    return results


def check_simulator_settings(setup: PlanningSetup) -> None:
    """Refuses what planning in the simulator cannot do: gradients through the physics, and
    compiling or autocasting a rollout that is not the model's.

    Raises:
        ValueError: naming the setting.
    """
    if setup.planner.needs_grad:
        raise ValueError(
            f"dynamics=simulator has no gradients: planner {setup.cfg.planner.name} needs them; "
            "take a sampling planner (cem, icem, mppi)"
        )
    for key in ("compile", "bf16"):
        if setup.controller_options.get(key):
            raise ValueError(
                f"dynamics=simulator rolls out the physics: set controller.{key}=false"
            )


def task_energy(setup: PlanningSetup) -> PlanningSetup:
    """``setup`` with the cost replaced by the squared task distance at the plan's last step
    (`SimulatorDynamics` with ``task_distance``).

    Raises:
        ValueError: for the hierarchical controller, whose high level plans in the model.
    """
    if setup.controller_name != "mpc":
        raise ValueError(
            f"energy=task plans with one MPC controller, got controller.name="
            f"{setup.controller_name}"
        )
    cost = GoalDistance("last")
    return replace(setup, cost=cost, controller_options={**setup.controller_options,
                                                         "cost": cost})  # fmt: skip


def _frames_per_step(controller: MPCController | HierarchicalController, steps: int) -> dict:
    """Planning compute: frames the world models predicted per environment step (B * N * H
    summed over the energy's calls), per level and in all."""
    levels = {"low": controller}
    if isinstance(controller, HierarchicalController):
        levels = {"low": controller.low, "high": controller}
    frames = {name: level.energy.frames_scored / steps for name, level in levels.items()}
    return {**frames, "total": sum(frames.values())}


if __name__ == "__main__":
    main()
