"""``python -m benchmarks.realtime_loop``: a real-time control loop, asynchronous against
synchronous planning.

The environment is stepped at ``rate_hz`` in wall-clock time, whatever the controller does:
at each tick the loop asks the controller for an action; when the call returns after one or
more further ticks were due, the environment has meanwhile been stepped with the previous
action held for each of them (a robot keeps executing its last command), so a slow controller
spends the episode's step budget acting on stale plans. The synchronous controller
(`MPCController`) plans inside `act`; the asynchronous one (`AsyncController`) plans in a
thread and returns within its deadline with the newest plan shifted by the steps since.

Reported per controller: success at the end of the budget (the environment's test) and at any
step, deadline-miss rate (synchronous: calls longer than one tick; asynchronous: its own count,
ticks late or without a plan row), ticks the environment held the previous action, the
latency of `act` p50/p99, plan time p50 and plan age (asynchronous). Writes ``results.json``
into the hydra run directory.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import gymnasium as gym
import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from benchmarks.latency import latency_ms
from benchmarks.planning_defaults import step_budget, user_override_keys
from benchmarks.planning_setup import PlanningSetup, planning_setup
from benchmarks.report import wilson_interval
from planner import AsyncController, MPCController

logger = logging.getLogger(__name__)


def run_episode(controller, env: gym.Env, seed: int, max_steps: int, period_s: float) -> dict:
    """One episode in wall-clock time; returns its outcome and the controller's latencies."""
    obs, info = env.reset(seed=seed)
    controller.reset(info["goal_obs"])
    action = np.zeros(env.action_space.shape, dtype=np.float32)  # held before the first
    latencies, held, reached, step = [], 0, False, 0
    start = time.monotonic()
    while step < max_steps:
        called = time.monotonic()
        new_action = controller.act(obs)
        latencies.append(time.monotonic() - called)
        due = int((time.monotonic() - start) / period_s)  # ticks due by now
        while step < min(due, max_steps):  # ticks that passed during the call
            obs, _, _, _, info = env.step(action)
            reached |= info["success"]
            held += 1
            step += 1
        if step >= max_steps:
            break
        action = new_action
        obs, _, _, _, info = env.step(action)
        reached |= info["success"]
        step += 1
        time.sleep(max(0.0, start + step * period_s - time.monotonic()))
    return {
        "success": bool(info["success"]),
        "reached": bool(reached),
        "held_ticks": held,
        "latencies_s": latencies,
    }


def make_controller(kind: str, setup: PlanningSetup, cfg: DictConfig, period_s: float):
    """The synchronous `MPCController` or the `AsyncController`, seeded alike."""
    generator = torch.Generator(device=cfg.device).manual_seed(cfg.seed)
    if kind == "sync":
        return MPCController(
            setup.world_model, setup.planner, generator=generator, **setup.controller_options
        )
    if kind != "async":
        raise ValueError(f"controllers are 'sync' and 'async', got {kind!r}")
    options = setup.controller_options
    if options["history"] != 1 or options["replan_every"] != 1:
        raise ValueError(
            "the asynchronous controller plans from the latest frame, always: "
            "set controller.history=1 and controller.replan_every=1"
        )
    return AsyncController(
        setup.world_model,
        setup.planner,
        deadline_s=cfg.deadline_s or period_s / 2,
        cost=setup.cost,
        generator=generator,
        time_budget_s=cfg.time_budget_s,
        compile=options["compile"],
        bf16=options["bf16"],
        warm_iters=options["warm_iters"],
        null_candidate=options["null_candidate"],
        null_margin=options["null_margin"],
        policy_prior=options["policy_prior"],
        policy_margin=options["policy_margin"],
    )


def run_controller(kind: str, setup: PlanningSetup, cfg: DictConfig, max_steps: int) -> dict:
    """Every episode with one kind of controller; its figures."""
    period_s = 1.0 / cfg.rate_hz
    controller = make_controller(kind, setup, cfg, period_s)
    env = gym.make(cfg.env_id, **OmegaConf.to_container(cfg.env_kwargs))
    episodes = [
        run_episode(controller, env, cfg.seed + i, max_steps, period_s)
        for i in range(cfg.n_episodes)
    ]
    env.close()
    latencies = [s for e in episodes for s in e["latencies_s"]]
    if kind == "async":
        controller.close()
        misses, ticks = controller.deadline_misses, controller.ticks
        ages = [a for a in controller.plan_ages if a >= 0]
        plan_age = {"plan_age_steps_p50": float(np.median(ages)) if ages else float("nan")}
    else:
        misses, ticks = sum(s > period_s for s in latencies), len(latencies)
        plan_age = {}
    successes = sum(e["success"] for e in episodes)
    low, high = wilson_interval(successes, len(episodes))
    return {
        "success_rate": successes / len(episodes),
        "success_ci95": [low, high],
        "reached_rate": sum(e["reached"] for e in episodes) / len(episodes),
        "deadline_miss_rate": misses / max(ticks, 1),
        "held_ticks": sum(e["held_ticks"] for e in episodes),
        "ticks": ticks,
        "act_latency": latency_ms(latencies),
        "plan_time": latency_ms(controller.plan_times_s),
        **plan_age,
        "episodes": [{k: v for k, v in e.items() if k != "latencies_s"} for e in episodes],
    }


@hydra.main(config_path="conf", config_name="realtime_loop", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup = planning_setup(cfg, user_override_keys(HydraConfig.get().overrides.task))
    cfg = setup.cfg
    max_steps = step_budget(cfg.max_steps, cfg.env_id)
    results = {
        "controllers": {
            kind: run_controller(kind, setup, cfg, max_steps) for kind in cfg.controllers
        },
        "step_budget": max_steps,
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    print(f"{cfg.env_id} at {cfg.rate_hz} Hz, {cfg.n_episodes} episodes x {max_steps} steps")
    print("controller  success  reached  miss rate  held  act p50/p99 ms  plan p50 ms  age p50")
    for kind, r in results["controllers"].items():
        print(
            f"{kind:10s}  {r['success_rate']:.2f}     {r['reached_rate']:.2f}     "
            f"{r['deadline_miss_rate']:.2f}       {r['held_ticks']:4d}  "
            f"{r['act_latency']['p50_ms']:.0f}/{r['act_latency']['p99_ms']:.0f}  "
            f"{r['plan_time']['p50_ms']:.0f}  {r.get('plan_age_steps_p50', float('nan')):.1f}"
        )
    print(f"results in {out_dir}")
    return results


if __name__ == "__main__":
    main()
