"""Every planner in the bench config group builds, with the name its file says; a world
model's planning defaults apply below the command line."""

from pathlib import Path

import gymnasium as gym
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

import envs  # noqa: F401  (registers the ids)
from benchmarks.planning_defaults import (
    PLANNING_FILE,
    apply_planning_defaults,
    read_planning_defaults,
    step_budget,
    user_override_keys,
)
from planner import PLANNERS, make_planner
from worldmodels.bundled import BUNDLED, bundled_world_model
from worldmodels.checkpoint import load_high_level, load_world_model, read_world_model_config

CONF = Path(__file__).resolve().parents[2] / "benchmarks" / "conf"


def test_there_is_a_config_for_every_registered_planner():
    assert {p.stem for p in (CONF / "planner").glob("*.yaml")} == set(PLANNERS)


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_bench_planner_config_builds_that_planner(name):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="bench", overrides=[f"planner={name}"])
    planner = make_planner(**OmegaConf.to_container(cfg.planner), action_dim=2)
    assert isinstance(planner, PLANNERS[name]) and planner.horizon == 5


def bench_config(*overrides: str) -> tuple[DictConfig, set[str]]:
    """bench's composed config and the keys its overrides set, as the app sees them."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="bench", overrides=list(overrides))
    return cfg, user_override_keys(overrides)


def test_the_bundled_maze_model_keeps_the_default_run():
    cfg, user_keys = bench_config()
    defaults = read_planning_defaults(bundled_world_model("wmplan/PointMaze-v0"))
    effective = apply_planning_defaults(cfg, defaults, user_keys)
    planner = OmegaConf.to_container(effective.planner)
    assert planner == OmegaConf.to_container(OmegaConf.load(CONF / "planner" / "cem.yaml"))
    assert (planner["horizon"], planner["n_samples"], planner["n_elites"]) == (5, 96, 12)
    assert planner["n_iters"] == 5
    assert (effective.controller.replan_every, effective.controller.history) == (1, 1)
    assert effective.cost == cfg.cost
    assert (effective.max_steps, effective.n_episodes) == (20, 30)
    assert cfg.max_steps is None  # bench's own default: the registered budget


def effective_config(defaults: DictConfig, *overrides: str) -> DictConfig:
    """The settings bench runs with, given the model's defaults and the command line."""
    cfg, user_keys = bench_config(*overrides)
    return apply_planning_defaults(cfg, defaults, user_keys)


def write_planning(directory: Path, text: str) -> DictConfig:
    (directory / PLANNING_FILE).write_text(text)
    return read_planning_defaults(directory)


MODEL_PLANNING = """
planner: {name: mppi, horizon: 8, n_samples: 32}
controller: {replan_every: 2}
cost: {_target_: planner.energy.GoalDistance, reduction: last}
max_steps: null
n_episodes: 7
"""


def test_model_defaults_apply_below_the_command_line(tmp_path):
    defaults = write_planning(tmp_path, MODEL_PLANNING)
    effective = effective_config(defaults)
    mppi = OmegaConf.load(CONF / "planner" / "mppi.yaml")
    assert effective.planner == OmegaConf.merge(mppi, {"horizon": 8, "n_samples": 32})
    assert effective.controller.replan_every == 2 and effective.controller.history == 1
    assert effective.cost.reduction == "last" and effective.n_episodes == 7
    assert effective.max_steps is None
    assert step_budget(effective.max_steps, "wmplan/PointMaze-v0") == 50
    assert step_budget(None, "wmplan/PushT-v0") == 100 and step_budget(20, "wmplan/Wall-v0") == 20
    # What the user sets wins, key by key.
    cfg, user_keys = bench_config(
        "planner.horizon=3", "controller.replan_every=1", "max_steps=11", "cost.terms.1.0=0.5"
    )
    effective = apply_planning_defaults(cfg, defaults, user_keys)
    assert (effective.planner.name, effective.planner.horizon) == ("mppi", 3)
    assert effective.planner.n_samples == 32 and effective.controller.replan_every == 1
    assert (effective.max_steps, effective.n_episodes) == (11, 7)
    assert effective.cost == cfg.cost  # bench's cost, as the user edited it


def test_choosing_the_hierarchical_controller_keeps_the_models_controller_settings(tmp_path):
    defaults = write_planning(tmp_path, MODEL_PLANNING)
    assert effective_config(defaults).controller.name == "mpc"
    effective = effective_config(defaults, "controller=hierarchical")
    assert effective.controller.name == "hierarchical"
    assert effective.controller.replan_every == 2  # the model's, under the chosen controller
    assert effective.controller.high_level.planner.name == "cem"
    assert effective.controller.high_level.cost.reduction == "last"
    effective = effective_config(defaults, "controller=hierarchical",
                                 "controller.high_level.planner.horizon=6")  # fmt: skip
    assert effective.controller.high_level.planner.horizon == 6


def test_a_models_high_level_cost_replaces_the_default_one(tmp_path):
    last = {"_target_": "planner.energy.GoalDistance", "reduction": "last"}
    weighted = {"_target_": "planner.energy.WeightedSum", "terms": [[1.0, last]]}
    model = OmegaConf.to_yaml({"controller": {"high_level": {"cost": weighted}}})
    effective = effective_config(write_planning(tmp_path, model), "controller=hierarchical")
    assert OmegaConf.to_container(effective.controller.high_level.cost) == weighted  # no merge


def test_a_planner_chosen_on_the_command_line_keeps_the_models_horizon(tmp_path):
    defaults = write_planning(tmp_path, MODEL_PLANNING)
    effective = effective_config(defaults, "planner=icem")
    icem = OmegaConf.load(CONF / "planner" / "icem.yaml")
    assert effective.planner == OmegaConf.merge(icem, {"horizon": 8})
    effective = effective_config(defaults, "planner=mppi")
    assert effective.planner.n_samples == 32 and effective.planner.horizon == 8
    for name in sorted(PLANNERS):  # every result builds
        effective = effective_config(defaults, f"planner={name}")
        make_planner(**OmegaConf.to_container(effective.planner), action_dim=4)


def test_without_planning_defaults_the_config_is_benchs(tmp_path):
    cfg, user_keys = bench_config("planner.horizon=4")
    effective = apply_planning_defaults(cfg, read_planning_defaults(tmp_path), user_keys)
    assert effective == cfg


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- 1\n", "must hold a mapping"),
        ("planner_typo: {}\n", r"unknown keys \['planner_typo'\]"),
        ("planner: {horizon: 3}\n", "planner needs a name"),
        ("controller: 3\n", "controller must be a mapping"),
        ("cost: {reduction: all}\n", "cost needs a _target_"),
        ("max_steps: 0\n", "max_steps must be an integer >= 1, got 0"),
        ("n_episodes: null\n", "n_episodes must be an integer >= 1, got None"),
        ("planner: {name: nope}\n", "no planner config 'nope'"),
    ],
)
def test_bad_planning_defaults_name_the_key(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        defaults = write_planning(tmp_path, text)
        effective_config(defaults)


def test_override_keys_are_the_dotted_keys_the_user_set():
    overrides = ["planner=mppi", "planner.horizon=7", "+controller.x=1", "~cost", "a.b=c=d"]
    assert user_override_keys(overrides) == {
        "planner",
        "planner.horizon",
        "controller.x",
        "cost",
        "a.b",
    }
    with pytest.raises(ValueError, match="max_steps must be >= 1"):
        step_budget(0, "wmplan/PointMaze-v0")


@pytest.mark.parametrize("env_id", sorted(BUNDLED))
def test_every_bundled_model_fits_its_environment(env_id):
    """`wmplan-bench env_id=ID` alone: the model was trained on ID, takes ID's actions (in blocks
    of its frame skip) and proprio, and its planning defaults are valid."""
    path = bundled_world_model(env_id)
    world_model = load_world_model(path)
    meta = read_world_model_config(path)
    assert meta["extra"]["env_id"] == env_id
    env = gym.make(env_id)
    action_dim = env.action_space.shape[0]
    assert world_model.env_action_dim == action_dim
    assert world_model.action_dim == action_dim * world_model.frameskip
    assert world_model.proprio_dim in (0, env.observation_space["proprio"].shape[0])
    env.close()
    defaults = read_planning_defaults(path)
    assert defaults["planner"]["name"] in PLANNERS
    assert (path / PLANNING_FILE).is_file()


def test_the_bundled_large_maze_model_has_its_high_level():
    """`controller=hierarchical` on the bundled large-maze model: a high level on the same
    encoder, with latent macro-actions over blocks of its frame skip of the maze's actions, and
    the temporal-distance head its energy needs."""
    path = bundled_world_model("wmplan/LargeMaze-v0")
    low, high = load_world_model(path), load_high_level(path)
    assert high is not None and high.latent_action_dim > 0
    assert high.frameskip > low.frameskip
    assert high.action_dim == low.env_action_dim * high.frameskip
    # its energy's steps to go: the temporal-distance head, read by both levels
    assert low.temporal_distance is not None and high.temporal_distance is not None
