"""Subgoal map: where the hierarchical controller's subgoals lie on the way to a far goal.

Runs a few benchmark pairs with ``controller=hierarchical`` and draws, one panel per episode,
the maze, the executed path and each subgoal the high level handed to the low level. A
subgoal is a predicted latent state, not a position: it is located by a linear probe (ridge,
`worldmodels.linear_probe.fit_ridge`) of the ball's position from the visual tokens, fitted
on images of the ball rendered at random free positions and scored on held-out ones (its
RMSE is printed and written into the title). Each subgoal is joined to where the ball was
when the subgoal was set; a hollow marker is a step where the high level's subgoal was no
closer than the current state and the goal itself was used. Writes ``subgoal_map.png`` and
``subgoal_map.json`` into the hydra run directory. Run ``python -m benchmarks.subgoal_map``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import gymnasium as gym
import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from omegaconf import DictConfig, OmegaConf

import envs  # noqa: F401  (registers the environments)
from benchmarks.energy_landscape import observed_visual_tokens
from benchmarks.episodes import pair_seeds, run_batch
from benchmarks.planning_defaults import step_budget, user_override_keys
from benchmarks.planning_setup import make_controller, planning_setup
from envs.ball_arena import BallArenaEnv
from planner.hierarchical import HierarchicalController
from worldmodels.linear_probe import RidgeMap, fit_ridge
from worldmodels.world_model import WorldModel

logger = logging.getLogger(__name__)


def position_probe(
    world_model: WorldModel, env: BallArenaEnv, n_points: int, seed: int
) -> tuple[RidgeMap, float]:
    """A ridge map from visual tokens to the ball's (x, y), and its held-out RMSE.

    Args:
        world_model: whose encoder the features come from.
        env: the arena (reset once); renders the ball at rest at each sampled free position.
        n_points: sampled positions; the last fifth is held out.
        seed: of the position sampler.
    """
    rng = np.random.default_rng(seed)
    limits = np.asarray(env.half_extents) - env.ball_radius
    points: list[np.ndarray] = []
    while len(points) < n_points:
        p = rng.uniform(-limits, limits)
        if env.is_free(p):
            points.append(p)
    positions = torch.from_numpy(np.stack(points))
    features = torch.cat(
        [
            observed_visual_tokens(
                world_model, [env.observation_at(p) for p in points[i : i + 256]]
            )
            .flatten(1)
            .cpu()
            for i in range(0, n_points, 256)
        ]
    )
    n_test = n_points // 5
    probe = fit_ridge(features[:-n_test], positions[:-n_test])
    error = (probe(features[-n_test:]) - positions[-n_test:]).square().sum(dim=1).mean()
    return probe, float(error.sqrt())


def _draw_panel(axes, env: BallArenaEnv, episode: dict) -> None:
    """The maze's walls, the path, the subgoals, start and goal on one matplotlib axes."""
    for x0, x1, y0, y1 in env.walls:
        axes.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, color="0.35", lw=0))
    path = np.asarray(episode["path"])
    axes.plot(path[:, 0], path[:, 1], "-", color="C0", lw=1.5, label="path")
    for s in episode["subgoals"]:
        start = path[s["step"]]
        axes.plot([start[0], s["xy"][0]], [start[1], s["xy"][1]], ":", color="C1", lw=0.8)
        face = "none" if s["is_goal"] else "C1"
        axes.plot(*s["xy"], "o", ms=5, mfc=face, mec="C1")
    axes.plot(*path[0], "s", color="C2", ms=8, label="start")
    axes.plot(*episode["goal"], "*", color="C3", ms=13, label="goal")
    outcome = "success" if episode["success"] else "failure"
    axes.set_title(f"seed {episode['seed']}: {outcome}", fontsize=9)
    extent = env.view_extent
    axes.set_xlim(-extent, extent)
    axes.set_ylim(-extent * 0.75, extent * 0.75)
    axes.set_aspect("equal")
    axes.set_xticks([])
    axes.set_yticks([])


@hydra.main(config_path="conf", config_name="subgoal_map", version_base="1.3")
def main(cfg: DictConfig) -> None:
    setup = planning_setup(cfg, user_override_keys(HydraConfig.get().overrides.task))
    cfg, world_model = setup.cfg, setup.world_model
    generator = torch.Generator(device=cfg.device).manual_seed(cfg.seed)
    controller = make_controller(setup, generator)
    if not isinstance(controller, HierarchicalController):
        raise ValueError("the subgoal map needs controller=hierarchical")
    env_kwargs = OmegaConf.to_container(cfg.env_kwargs)
    env = gym.make(cfg.env_id, **env_kwargs).unwrapped
    if not isinstance(env, BallArenaEnv):
        raise ValueError(f"env_id must be a ball arena (a maze), got {cfg.env_id!r}")
    env.reset(seed=cfg.seed)
    probe, probe_rmse = position_probe(world_model, env, cfg.probe_points, cfg.seed)
    logger.info("position probe from visual tokens: held-out RMSE %.3f units", probe_rmse)
    seeds = pair_seeds(cfg.seed, cfg.n_episodes, cfg.seeds)
    max_steps = step_budget(cfg.max_steps, cfg.env_id)
    episodes = []
    for first in range(0, len(seeds), cfg.batch_size):
        batch = seeds[first : first + cfg.batch_size]
        success, _, distance, recorded = run_batch(
            controller, cfg.env_id, env_kwargs, batch, max_steps, len(batch)
        )
        goal_tokens = world_model.visual_tokens(controller.low.goal_latent)
        for i, seed in enumerate(batch):
            env.reset(seed=seed)
            subgoals = []
            for step, z in controller.subgoals:
                tokens = world_model.visual_tokens(z[i : i + 1])
                xy = probe(tokens.flatten(1))[0]
                is_goal = bool(torch.equal(tokens, goal_tokens[i : i + 1].cpu()))
                subgoals.append({"step": step, "xy": xy.tolist(), "is_goal": is_goal})
            episodes.append(
                {
                    "seed": seed,
                    "success": bool(success[i]),
                    "final_distance": float(distance[i]),
                    "goal": env.goal.tolist(),
                    "path": [p[:2].tolist() for p in recorded[i].proprio],
                    "subgoals": subgoals,
                }
            )
    figure = Figure(figsize=(4.2 * min(len(episodes), 3), 3.4 * -(-len(episodes) // 3)))
    FigureCanvasAgg(figure)
    for k, episode in enumerate(episodes):
        _draw_panel(figure.add_subplot(-(-len(episodes) // 3), min(len(episodes), 3), k + 1),
                    env, episode)  # fmt: skip
    figure.suptitle(
        f"{cfg.env_id}: path (blue) and subgoals (orange, located by a linear probe, held-out "
        f"RMSE {probe_rmse:.2f})",
        fontsize=10,
    )
    figure.tight_layout()
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    figure.savefig(out_dir / "subgoal_map.png", dpi=120)
    report = {"probe_rmse": probe_rmse, "episodes": episodes, "step_budget": max_steps}
    (out_dir / "subgoal_map.json").write_text(json.dumps(report, indent=2))
    print(f"subgoal map written to {out_dir / 'subgoal_map.png'}")


if __name__ == "__main__":
    main()
