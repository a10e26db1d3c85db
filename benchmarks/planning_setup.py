"""A world model and what it plans with, from a bench-like config: the model (bundled for
``env_id`` or ``world_model=``) with its planning defaults below the command line, the
environment's action bounds tiled over the model's frame skip, the planner and the cost; and the
controller they make (MPC, or two levels with the model's high level)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

import envs  # noqa: F401  (registers the environments)
from benchmarks.planning_defaults import apply_planning_defaults, read_planning_defaults
from planner import Cost, MPCController, Planner, make_planner
from planner.hierarchical import HierarchicalController
from worldmodels.bundled import bundled_world_model
from worldmodels.checkpoint import (
    HIGH_LEVEL_DIR,
    load_high_level,
    load_world_model,
)
from worldmodels.checkpoint_config import check_trained_env
from worldmodels.world_model import WorldModel

CONTROLLERS = ("mpc", "hierarchical")


@dataclass
class PlanningSetup:
    """Attributes:
    cfg: the effective config (the model's planning defaults applied).
    world_model_path: the checkpoint directory.
    world_model: loaded on ``cfg.device``.
    image_shape: (H, W, 3) of the environment's observations.
    planner: plans blocks of the model's frame skip within the tiled action bounds.
    cost: the energy's cost, one object for every controller.
    controller_options: ``cfg.controller`` as `MPCController` keywords, with the cost.
    controller_name: ``cfg.controller.name``: "mpc" (also where a config has no name) or
        "hierarchical" (`make_controller`).
    high_level: ``cfg.controller.high_level``, the hierarchical controller's settings, or None.
    """

    cfg: DictConfig
    world_model_path: Path
    world_model: WorldModel
    image_shape: tuple[int, int, int]
    planner: Planner
    cost: Cost
    controller_options: dict[str, Any]
    controller_name: str = "mpc"
    high_level: dict[str, Any] | None = None


def planning_setup(cfg: DictConfig, user_keys: set[str]) -> PlanningSetup:
    """Loads the world model of ``cfg`` and builds its planner and cost.

    Args:
        cfg: with ``env_id``, ``env_kwargs``, ``world_model`` (null: the bundled model),
            ``device``, ``threads``, ``planner``, ``controller`` and ``cost``.
        user_keys: keys set on the command line (`user_override_keys`), kept over the model's
            planning defaults.

    Raises:
        ValueError: for an unknown ``env_id``, or a model trained on another environment or
            taking other actions.
    """
    if cfg.env_id not in gym.registry:
        known = sorted(i for i in gym.registry if i.startswith("wmplan/"))
        raise ValueError(f"unknown environment env_id={cfg.env_id!r}; registered: {known}")
    wm_path = Path(cfg.world_model) if cfg.world_model else bundled_world_model(cfg.env_id)
    cfg = apply_planning_defaults(cfg, read_planning_defaults(wm_path), user_keys)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    check_trained_env(wm_path, cfg.env_id, f"world model {wm_path}")
    world_model = load_world_model(wm_path, device=cfg.device)
    env = gym.make(cfg.env_id, **OmegaConf.to_container(cfg.env_kwargs))
    action_space, image_shape = env.action_space, env.observation_space["pixels"].shape
    env.close()
    frameskip = world_model.frameskip
    if world_model.env_action_dim != action_space.shape[0]:
        raise ValueError(
            f"world model {wm_path} takes raw actions of dim {world_model.env_action_dim} "
            f"(frameskip {frameskip}), {cfg.env_id} has {action_space.shape[0]}"
        )
    planner = make_planner(
        **OmegaConf.to_container(cfg.planner),
        action_dim=world_model.action_dim,  # a block of frameskip raw actions
        low=torch.as_tensor(action_space.low).repeat(frameskip),
        high=torch.as_tensor(action_space.high).repeat(frameskip),
        device=cfg.device,
    )
    cost = instantiate(cfg.cost)
    options = OmegaConf.to_container(cfg.controller)
    name, high_level = options.pop("name", "mpc"), options.pop("high_level", None)
    if name not in CONTROLLERS:
        raise ValueError(f"controller.name must be one of {CONTROLLERS}, got {name!r}")
    return PlanningSetup(cfg, wm_path, world_model, tuple(image_shape), planner, cost,
                         {**options, "cost": cost}, name, high_level)  # fmt: skip


def make_controller(
    setup: PlanningSetup, generator: torch.Generator | None = None
) -> MPCController | HierarchicalController:
    """The controller ``setup`` describes: an `MPCController`, or for ``hierarchical`` one as
    the low level of a `HierarchicalController` whose high level is the world model's
    ``high_level/`` (planning ``[-1, 1]^d`` macro-actions with ``high_level.planner``).

    Raises:
        ValueError: ``hierarchical`` without ``high_level`` settings, or for a world model
            without a high level.
    """
    low = MPCController(setup.world_model, setup.planner, generator=generator,
                        **setup.controller_options)  # fmt: skip
    if setup.controller_name == "mpc":
        return low
    settings = setup.high_level
    if not settings:
        raise ValueError(
            "controller.name=hierarchical needs controller.high_level settings (planner, cost): "
            "choose it with controller=hierarchical (conf/controller/hierarchical.yaml)"
        )
    high = load_high_level(setup.world_model_path, device=setup.cfg.device)
    if high is None:
        raise ValueError(
            f"controller=hierarchical needs a high-level model in {setup.world_model_path}/"
            f"{HIGH_LEVEL_DIR} (wmplan-train mode=high_level out={setup.world_model_path})"
        )
    latent = settings.get("actions", "latent") == "latent"
    if latent:
        d = high.latent_action_dim
        lower, upper = -torch.ones(d), torch.ones(d)
    else:  # raw blocks of the high level's k steps within the environment's bounds
        k = high.frameskip // setup.world_model.frameskip
        lower, upper = setup.planner.low.repeat(k), setup.planner.high.repeat(k)
    planner = make_planner(**settings["planner"], action_dim=lower.numel(), low=lower,
                           high=upper, device=setup.cfg.device)  # fmt: skip
    return HierarchicalController(
        low,
        high,
        planner,
        cost=instantiate(settings["cost"]),
        replan_every=settings.get("replan_every"),
        subgoal_step=settings.get("subgoal_step", 1),
        generator=generator,
        latent=latent,
    )
