"""``wmplan-recipe``: the chain it builds from an env file (the chain runner's own tests:
test_stages.py), a two-stage tiny run that is skipped when rerun, and (slow) the whole chain
SIGKILLed in two stages ending with the uninterrupted run's weights."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf
from safetensors.torch import load_file

from benchmarks.planning_defaults import PLANNING_FILE, read_planning_defaults
from benchmarks.recipe_stages import (
    STAGES,
    Runtime,
    flatten,
    override_value,
    planning_yaml,
    recipe_stages,
)
from benchmarks.stages import Stage, read_records
from planner import PLANNERS

CONF = Path(__file__).resolve().parents[2] / "benchmarks" / "conf" / "recipe"
ENVS = sorted(p.stem for p in (CONF / "env").glob("*.yaml"))
TINY = [  # seconds per stage on 2 busy cores; threads=1 keeps the runs comparable
    "threads=1", "workers=1", "scale=0.002",
    "+env.encoder.pretrain.batch_size=8", "+env.encoder.vit.embed_dim=16",
    "+env.encoder.vit.depth=1",
]  # fmt: skip
TINY_CHAIN = [  # the whole chain: enough steps and episodes to be killed in the middle
    *TINY[:2], "scale=0.01", *TINY[3:],
    "+env.predictor.train.batch_size=16", "+env.predictor.train.checkpoint_every=5",
    "+env.predictor.train.val_every=10", "+env.predictor.predictor.dim=32",
    "+env.predictor.predictor.depth=1", "+env.decoder.decoder.batch_size=8",
    "+env.decoder.decoder.channels=16", "+env.bench.n_episodes=2", "+env.bench.batch_size=2",
    "+env.bench.max_steps=3", "+env.bench.video_episodes=0", "+env.bench.planner.n_samples=16",
    "+env.bench.planner.n_elites=4", "+env.bench.planner.n_iters=2",
]  # fmt: skip


def _env(name: str, *overrides: str) -> dict:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="recipe", overrides=[f"env={name}", *overrides])
    return OmegaConf.to_container(cfg.env, resolve=True)


def _args(stage: Stage) -> list[list[str]]:
    return [[c.script, *c.args] for c in stage.commands]


@pytest.mark.parametrize(
    "value", [0.1, 3, -2, 1e-5, None, True, "wmplan/Wall-v0", "/tmp/a-b/c.d", "a b", "it's",
              "true", "1.5", [1, "x", None], {"control_dt": 0.1, "k": [1, 2]}],
)  # fmt: skip
def test_override_values_read_back_as_written(value):
    (parsed,) = OverridesParser.create().parse_overrides([f"key={override_value(value)}"])
    assert parsed.value() == value


def test_nested_settings_flatten_to_dotted_overrides():
    settings = {"train": {"steps": 3, "frameskip": 2}, "objective": "dino", "x": [1]}
    assert flatten(settings) == ["train.steps=3", "train.frameskip=2", "objective=dino", "x=[1]"]


@pytest.mark.parametrize("name", ENVS)
def test_every_env_file_builds_the_whole_chain(name, tmp_path):
    stages = recipe_stages(_env(name), tmp_path, scale=1.0, run=Runtime())
    assert STAGES == ("collect", "encoder", "predictor", "decoder", "planning", "bench")
    optional = tuple(
        s for s in ("rounds", "high_level", "temporal_distance", "goal_policy") if s in _env(name)
    )
    assert tuple(s.name for s in stages) == (*STAGES[:3], *optional, *STAGES[3:])
    stages = [s for s in stages if s.name not in optional]
    assert all(s.outputs for s in stages)
    ((path, text),) = stages[4].files.items()
    assert path == str(tmp_path / "world_model" / PLANNING_FILE)
    (tmp_path / PLANNING_FILE).write_text(text)
    planning = read_planning_defaults(tmp_path)  # what wmplan-bench reads, checked
    assert planning.planner.name in PLANNERS and "n_episodes" in planning
    bench = _args(stages[5])
    assert bench == [["wmplan-bench", f"env_id={_env(name)['env_id']}",
                      f"world_model={tmp_path / 'world_model'}"]]  # fmt: skip


def test_pointmaze_chain_is_the_readme_recipe(tmp_path):
    run = Runtime(device="cpu", threads=2, workers=2)
    stages = recipe_stages(_env("pointmaze"), tmp_path, 1.0, run)
    collect, encoder, predictor, decoder = stages[:4]
    on, data = "env_id=wmplan/PointMaze-v0", tmp_path / "data"
    assert _args(collect) == [
        ["wmplan-collect", f"out={data}", on, "episode_length=20", "seed=0",
         "n_episodes=3000", "policy=persistent"],
        ["wmplan-collect", f"out={tmp_path / 'encoder_data'}", on, "+env_kwargs.control_dt=0.1",
         "episode_length=50", "seed=10000", "n_episodes=1000", "policy=persistent"],
    ]  # fmt: skip
    assert collect.commands[0].runtime_args[0] == "workers=2"
    assert _args(encoder) == [["wmplan-train", "mode=encoder",
                               f"dataset={tmp_path / 'encoder_data'}", on,
                               f"out={tmp_path / 'encoder'}", "pretrain.steps=1000",
                               "pretrain.temporal_prob=0.5", "pretrain.objective.cov_weight=0.04",
                               "pretrain.objective.max_shift=3"]]  # fmt: skip
    assert _args(predictor)[0][-1] == "train.steps=3000"
    assert _args(decoder)[0][-1] == "decoder.steps=2000"
    assert encoder.commands[0].runtime_args[:2] == ("device=cpu", "threads=2")


def test_high_level_settings_add_its_stage_after_the_predictor(tmp_path):
    high = "+env.high_level={train: {steps: 200, frameskip: 4}, predictor: {latent_action_dim: 3}}"
    stages = recipe_stages(_env("pointmaze", high), tmp_path, 0.5, Runtime())
    assert [s.name for s in stages] == ["collect", "encoder", "predictor", "high_level",
                                        "decoder", "planning", "bench"]  # fmt: skip
    (command,) = _args(stages[3])
    assert command == ["wmplan-train", "mode=high_level", f"dataset={tmp_path / 'data'}",
                       "env_id=wmplan/PointMaze-v0", f"out={tmp_path / 'world_model'}",
                       "train.steps=100", "train.frameskip=4",
                       "predictor.latent_action_dim=3"]  # fmt: skip
    assert stages[3].needs == ("collect", "predictor")
    assert stages[3].outputs == (str(tmp_path / "world_model" / "high_level" / "world_model.json"),)


def test_temporal_distance_settings_add_its_stage_after_the_predictor(tmp_path):
    head = "+env.temporal_distance={temporal_distance: {steps: 400, tokens: [-1]}}"
    stages = recipe_stages(_env("pointmaze", head), tmp_path, 0.5, Runtime())
    assert [s.name for s in stages] == ["collect", "encoder", "predictor", "temporal_distance",
                                        "decoder", "planning", "bench"]  # fmt: skip
    (command,) = _args(stages[3])
    assert command == ["wmplan-train", "mode=temporal_distance", f"dataset={tmp_path / 'data'}",
                       "env_id=wmplan/PointMaze-v0", f"out={tmp_path / 'world_model'}",
                       "temporal_distance.steps=200", "temporal_distance.tokens=[-1]"]  # fmt: skip
    assert stages[3].needs == ("collect", "predictor")
    assert stages[3].outputs == (str(tmp_path / "world_model" / "temporal_distance" / "head.json"),)


def test_goal_policy_settings_add_its_stage_after_the_model(tmp_path):
    policy = "+env.goal_policy={goal_policy: {steps: 600, width: 64}}"
    stages = recipe_stages(_env("pointmaze", policy), tmp_path, 0.5, Runtime())
    assert [s.name for s in stages] == ["collect", "encoder", "predictor", "goal_policy",
                                        "decoder", "planning", "bench"]  # fmt: skip
    (command,) = _args(stages[3])
    assert command == ["wmplan-train", "mode=goal_policy", f"dataset={tmp_path / 'data'}",
                       "env_id=wmplan/PointMaze-v0", f"out={tmp_path / 'world_model'}",
                       "goal_policy.steps=300", "goal_policy.width=64"]  # fmt: skip
    assert stages[3].needs == ("collect", "predictor")
    assert stages[3].outputs == (str(tmp_path / "world_model" / "goal_policy" / "policy.json"),)


def test_rounds_plan_with_their_own_planning_settings_where_given(tmp_path):
    stages = {s.name: s for s in recipe_stages(_env("cube"), tmp_path, 1.0, Runtime())}
    round_files = stages["rounds"].files
    assert len(round_files) == _env("cube")["rounds"]["n"]
    for text in round_files.values():  # the rounds' models have no goal policy yet
        assert "policy_prior" not in text and "icem" in text
    ((_, final),) = stages["planning"].files.items()
    assert "policy_prior: warm_start" in final


def test_wall_mixes_policies_in_one_dataset_and_scale_shrinks_counts(tmp_path):
    collect, _, predictor, *_ = recipe_stages(_env("wall"), tmp_path, 0.01, Runtime())
    mix = [[a for a in args if a.startswith(("n_episodes", "policy", "out", "extend"))]
           for args in _args(collect)]  # fmt: skip
    data = f"out={tmp_path / 'data'}"
    assert mix[:2] == [[data, "n_episodes=15", "policy=persistent"],
                       [data, "n_episodes=20", "policy=noisy_expert", "extend=true"]]  # fmt: skip
    assert {"train.steps=30", "train.frameskip=2"} <= set(_args(predictor)[0])


def test_an_experts_own_settings_reach_wmplan_collect_as_appended_keys(tmp_path):
    env = _env("wall")
    env["data"]["policies"][1]["expert"] = {"aim_noise": 0.02}
    (collect, *_) = recipe_stages(env, tmp_path, 1.0, Runtime())
    first, second = _args(collect)[:2]
    assert "+expert.aim_noise=0.02" in second
    assert not any(a.startswith(("expert", "+expert")) for a in first)


def test_each_part_of_the_data_logs_to_its_own_folder(tmp_path):
    env = _env("cube")  # three parts of noisy_expert, one of persistent
    (collect, *_) = recipe_stages(env, tmp_path, 1.0, Runtime())
    log_dirs = [next(a for a in c.runtime_args if a.startswith("hydra.run.dir="))
                for c in collect.commands]  # fmt: skip
    policies = [part["policy"] for part in env["data"]["policies"]]
    assert len(set(policies)) < len(policies) == len(set(log_dirs))


def test_an_encoder_of_mode_keypoints_is_a_keypoint_encoder_trained_in_the_encoder_stage(tmp_path):
    keypoints = "+env.encoder={mode: keypoints, keypoint_train: {steps: 600, sigma: 0.1}}"
    stages = recipe_stages(_env("pointmaze", "~env.encoder", keypoints), tmp_path, 0.5, Runtime())
    encoder = stages[1]
    assert encoder.name == "encoder"
    assert encoder.outputs == (str(tmp_path / "encoder" / "encoder.json"),)
    assert _args(encoder) == [["wmplan-train", "mode=keypoints",
                               f"dataset={tmp_path / 'encoder_data'}", "env_id=wmplan/PointMaze-v0",
                               f"out={tmp_path / 'encoder'}", "keypoint_train.steps=300",
                               "keypoint_train.sigma=0.1"]]  # fmt: skip
    assert encoder.commands[0].runtime_args[-1] == f"hydra.run.dir={tmp_path / 'logs' / 'encoder'}"
    env = _env("pointmaze", "~env.encoder", "+env.encoder={mode: keypoints, pretrain: {steps: 9}}")
    with pytest.raises(ValueError, match="env.encoder must set keypoint_train.steps"):
        recipe_stages(env, tmp_path, 1.0, Runtime())
    env["encoder"]["mode"] = "patches"
    with pytest.raises(ValueError, match="env.encoder.mode must be 'encoder' or 'keypoints'"):
        recipe_stages(env, tmp_path, 1.0, Runtime())


def test_rounds_plan_with_each_model_add_its_episodes_and_fine_tune_it(tmp_path):
    env = _env("cube", "env.rounds={n: 2, collect: {n_episodes: 300, episode_length: 50, "
                       "seed: 4000}, train: {steps: 2000}}")  # fmt: skip
    stages = recipe_stages(env, tmp_path, 0.1, Runtime(threads=2))
    names = [s.name for s in stages]
    assert names == ["collect", "encoder", "predictor", "rounds", "goal_policy", "decoder",
                     "planning", "bench"]  # fmt: skip
    _, encoder, predictor, rounds, policy, decoder, planning, bench = stages
    data, model = tmp_path / "data", [tmp_path / "rounds" / f"model_{r}" for r in range(2)]
    final = tmp_path / "world_model"
    assert "n_episodes=200" in _args(encoder)[0]  # the env's 2000 (the first two parts) scaled
    assert {"n_episodes=400", f"out={model[0]}"} <= set(_args(predictor)[0])  # the mix, scaled
    assert predictor.outputs == (str(model[0] / "world_model.json"),)
    on = "env_id=wmplan/Cube-v0"
    planned = ["wmplan-collect-planned", on, f"world_model={model[0]}", f"out={data}",
               "extend=true", "seed=4000", "n_episodes=30", "episode_length=50",
               "video_episodes=0"]  # fmt: skip
    train = ["train.steps=200", "train.frameskip=2", "train.rollout_steps=4",
             "train.proprio_weight=1.0"]  # fmt: skip
    assert _args(rounds) == [
        planned,
        ["wmplan-train", "mode=predictor", f"dataset={data}", on, "n_episodes=430",
         f"init_from={model[0]}", f"out={model[1]}", *train],
        [*planned[:2], f"world_model={model[1]}", *planned[3:5], "seed=4030", *planned[6:]],
        ["wmplan-train", "mode=predictor", f"dataset={data}", on, "n_episodes=460",
         f"init_from={model[1]}", f"out={final}", *train],
    ]  # fmt: skip
    assert set(rounds.files) == {str(m / PLANNING_FILE) for m in model}
    assert set(rounds.files.values()) == {planning_yaml(env["rounds"]["planning"])}
    assert rounds.outputs == (str(final / "world_model.json"),)
    assert rounds.needs == ("collect", "predictor")
    assert decoder.needs == planning.needs == ("rounds",) and bench.needs == ("rounds", "planning")
    assert policy.needs == ("collect", "rounds")  # trained on the final model's latents
    for bad, match in (
        ("env.rounds.n=0", "env.rounds.n must be an integer >= 1"),
        ("~env.rounds.collect.seed", r"env.rounds.collect must set \['seed'\]"),
    ):
        with pytest.raises(ValueError, match=match):
            recipe_stages(_env("cube", bad), tmp_path, 1.0, Runtime())


def test_a_training_stage_must_give_its_steps(tmp_path):
    env = _env("pointmaze")
    env["predictor"] = {"train": {"frameskip": 2}}
    with pytest.raises(ValueError, match="env.predictor must set train.steps"):
        recipe_stages(env, tmp_path, 1.0, Runtime())


def _recipe(out: Path, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "benchmarks.recipe", "env=pointmaze", f"out={out}", *overrides]


def _run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def test_two_stage_tiny_recipe_runs_then_skips(tmp_path):
    out = tmp_path / "run"
    _run(_recipe(out, *TINY, "stages=[collect,encoder]"))
    assert set(read_records(out)) == {"collect", "encoder"}
    assert len(list((out / "data").glob("episode_*.h5"))) == 6  # 3000 * 0.002
    assert len(list((out / "encoder_data").glob("episode_*.h5"))) == 2
    weights = out / "encoder" / "encoder.safetensors"
    written = weights.stat().st_mtime_ns
    log = _run(_recipe(out, *TINY, "stages=[collect,encoder]"))
    assert "stage collect: complete, skipped" in log and "stage encoder: complete" in log
    assert weights.stat().st_mtime_ns == written
    assert "$ wmplan-train mode=encoder" in (out / "logs" / "encoder.log").read_text()


def test_a_tiny_round_plans_with_the_predictors_model_and_fine_tunes_it(tmp_path):
    out = tmp_path / "run"
    rounds = "+env.rounds={n: 1, collect: {n_episodes: 500, episode_length: 4, seed: 5000}}"
    tiny = [*TINY, "+env.predictor.train.batch_size=16", "+env.predictor.predictor.dim=32",
            "+env.predictor.predictor.depth=1", rounds]  # 6 episodes, 1 planned  # fmt: skip
    _run(_recipe(out, *tiny, "stages=[collect,encoder,predictor,rounds]"))
    meta = json.loads((out / "data" / "meta.json").read_text())
    assert meta["provenance"][-1]["source"] == "benchmarks.collect_planned"
    assert meta["provenance"][-1]["world_model"] == str(out / "rounds" / "model_0")
    assert len(list((out / "data").glob("episode_*.h5"))) == 7
    first = json.loads((out / "rounds" / "model_0" / "world_model.json").read_text())["extra"]
    final = json.loads((out / "world_model" / "world_model.json").read_text())["extra"]
    assert first["n_episodes"] == 6 and final["n_episodes"] == 7
    assert final["init_from"] == str(out / "rounds" / "model_0")
    assert final["init_from_provenance"] == first


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("recipe") / "whole"
    _run(_recipe(out, *TINY_CHAIN))
    return out


WEIGHTS = (
    "encoder/encoder.safetensors",
    "world_model/encoder/encoder.safetensors",
    "world_model/predictor.safetensors",
    "world_model/decoder/decoder.safetensors",
)


@pytest.mark.slow
def test_recipe_end_to_end(whole_run):
    assert set(read_records(whole_run)) == set(STAGES)
    assert all((whole_run / w).is_file() for w in WEIGHTS)
    planning = OmegaConf.load(whole_run / "world_model" / "planning.yaml")
    assert planning.planner.n_samples == 96 and planning.max_steps == 20
    assert (whole_run / "bench" / "results.json").is_file()


def _kill_when(command: list[str], ready, deadline_s: float = 600) -> None:
    """Starts ``command`` in its own process group and SIGKILLs the group once ``ready()``."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + deadline_s
    while not ready() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.mark.slow
def test_recipe_killed_in_two_stages_ends_as_the_uninterrupted_run(whole_run, tmp_path):
    out = tmp_path / "killed"
    command = _recipe(out, *TINY_CHAIN)
    _kill_when(command, lambda: len(list((out / "data").glob("episode_*.h5"))) >= 3)
    assert "collect" not in read_records(out), "not killed while collecting"

    state = out / "world_model" / "training_state.safetensors"
    _kill_when(command, state.exists)
    assert state.exists() and not (out / "world_model" / "world_model.json").exists()
    assert set(read_records(out)) == {"collect", "encoder"}, "not killed in the predictor"

    log = _run(command)
    assert "stage collect: complete, skipped" in log and "stage encoder: complete" in log
    assert set(read_records(out)) == set(STAGES) and not state.exists()
    for name in WEIGHTS:
        whole, resumed = load_file(str(whole_run / name)), load_file(str(out / name))
        assert whole.keys() == resumed.keys()
        assert all(torch.equal(whole[k], resumed[k]) for k in whole), name
