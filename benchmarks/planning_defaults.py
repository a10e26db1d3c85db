"""A world model's planning defaults: the ``wmplan-bench`` settings it is meant to plan with.

Hydra's defaults list cannot depend on ``env_id``, so the settings travel with the model: an
optional ``planning.yaml`` in the world-model directory (written by whoever trains it, e.g.
``wmplan-recipe``) holds overrides of ``wmplan-bench``'s config, any of::

    planner:          # the model's planner: `name` (a file of conf/planner/) and its settings
      name: cem       # required when `planner` is given
      horizon: 5      # in blocks of the model's frameskip
      n_samples: 96
    controller:       # merged key by key into bench's `controller`
      replan_every: 1
    cost:             # replaces bench's `cost` whole (a hydra-instantiable cost)
      _target_: planner.energy.GoalDistance
      reduction: all
    max_steps: 20     # int, or null: the environment's registered budget
    n_episodes: 30

They apply below the command line: a key the user sets (``planner.horizon=7``) keeps the
user's value; choosing the controller (``controller=hierarchical``) keeps the model's
``controller`` settings under the chosen one's name. Choosing a planner on the command line
(``planner=mppi``) takes that planner's own settings, with the model's ``horizon`` (the
model's time scale), unless it is the model's planner, which then gets all the model's
settings. Setting anything under ``cost`` keeps bench's cost with the user's edits.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import gymnasium as gym
from omegaconf import DictConfig, OmegaConf

import envs  # noqa: F401  (registers the environments whose budgets step_budget reads)

PLANNING_FILE = "planning.yaml"
PLANNING_KEYS = ("planner", "controller", "cost", "max_steps", "n_episodes")
PLANNER_CONFIGS = Path(__file__).resolve().parent / "conf" / "planner"


def read_planning_defaults(world_model_dir: str | Path) -> DictConfig:
    """The planning defaults in a world-model directory, empty when it has no planning.yaml.

    Raises:
        ValueError: naming the file and the offending key or value.
    """
    path = Path(world_model_dir) / PLANNING_FILE
    if not path.is_file():
        return OmegaConf.create({})
    defaults = OmegaConf.load(path)
    if not isinstance(defaults, DictConfig):
        raise ValueError(f"{path} must hold a mapping, got {type(defaults).__name__}")
    unknown = sorted(set(defaults) - set(PLANNING_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}; allowed: {list(PLANNING_KEYS)}")
    for key in ("planner", "controller", "cost"):
        if key in defaults and not isinstance(defaults[key], DictConfig):
            raise ValueError(f"{path}: {key} must be a mapping, got {defaults[key]!r}")
    if "planner" in defaults and defaults.planner.get("name") is None:
        raise ValueError(f"{path}: planner needs a name (a file of {PLANNER_CONFIGS})")
    if "cost" in defaults and "_target_" not in defaults.cost:
        raise ValueError(f"{path}: cost needs a _target_, got {defaults.cost!r}")
    for key, allow_null in (("max_steps", True), ("n_episodes", False)):
        value = defaults.get(key, 1)
        if not (value is None and allow_null) and not (isinstance(value, int) and value >= 1):
            raise ValueError(f"{path}: {key} must be an integer >= 1, got {value!r}")
    return defaults


def user_override_keys(overrides: Iterable[str]) -> set[str]:
    """The config keys set on the command line, e.g. ``HydraConfig.get().overrides.task``.

    ``planner.horizon=7`` -> ``planner.horizon``; ``+a.b=1``, ``~a.b`` -> ``a.b``;
    ``planner=mppi`` (a config group) -> ``planner``.
    """
    return {override.split("=", 1)[0].lstrip("~+") for override in overrides}


def planner_config(name: str) -> DictConfig:
    """The planner config group's settings for ``name`` (``conf/planner/NAME.yaml``)."""
    path = PLANNER_CONFIGS / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in PLANNER_CONFIGS.glob("*.yaml"))
        raise ValueError(f"no planner config {name!r} in {PLANNER_CONFIGS}; known: {known}")
    return OmegaConf.load(path)


def apply_planning_defaults(
    cfg: DictConfig, defaults: DictConfig, user_keys: set[str]
) -> DictConfig:
    """bench's config with a world model's planning defaults below the command line.

    Args:
        cfg: the composed bench config (its defaults and the user's overrides).
        defaults: the model's planning defaults (`read_planning_defaults`).
        user_keys: the keys the user set (`user_override_keys`).

    Returns:
        A new config: the effective settings. ``cfg`` is left as it was.
    """
    effective = OmegaConf.create(OmegaConf.to_container(cfg))  # not struct: keys may be added
    if "planner" in defaults:
        effective.planner = _planner(effective.planner, defaults.planner, "planner" in user_keys)
    if "controller" in defaults:
        effective.controller = OmegaConf.merge(effective.controller, defaults.controller)
        high_cost = OmegaConf.select(defaults, "controller.high_level.cost")
        if high_cost is not None and not _touched("controller.high_level.cost", user_keys):
            effective.controller.high_level.cost = high_cost  # a cost is replaced, not merged
    if "cost" in defaults and not _touched("cost", user_keys):
        effective.cost = defaults.cost
    for key in ("max_steps", "n_episodes"):
        if key in defaults:
            effective[key] = defaults[key]
    for key in user_keys:  # the command line wins over the model
        section = key.split(".", 1)[0]
        if section in PLANNING_KEYS and key not in ("planner", "controller") and section != "cost":
            OmegaConf.update(effective, key, OmegaConf.select(cfg, key), merge=False)
    return effective


def _planner(chosen: DictConfig, model: DictConfig, user_chose: bool) -> DictConfig:
    """The planner settings: the model's on its planner, or the user's choice with the
    model's horizon."""
    if not user_chose:
        base = chosen if chosen.name == model.name else planner_config(model.name)
        return OmegaConf.merge(base, model)
    if chosen.name == model.name:
        return OmegaConf.merge(chosen, model)
    horizon = {"horizon": model.horizon} if "horizon" in model else {}
    return OmegaConf.merge(chosen, horizon)


def _touched(section: str, user_keys: set[str]) -> bool:
    """Whether the user set ``section`` or a key under it."""
    return any(key == section or key.startswith(section + ".") for key in user_keys)


def step_budget(max_steps: int | None, env_id: str) -> int:
    """Environment steps per episode: ``max_steps``, or the environment's registered budget
    (``gymnasium.spec(env_id).max_episode_steps``) when it is None.

    Raises:
        ValueError: the budget is below 1, or None and the environment registers none.
    """
    budget = gym.spec(env_id).max_episode_steps if max_steps is None else max_steps
    if budget is None or budget < 1:
        raise ValueError(
            f"max_steps must be >= 1, or null for the registered budget of {env_id} "
            f"(max_episode_steps={gym.spec(env_id).max_episode_steps}), got {max_steps}"
        )
    return budget
