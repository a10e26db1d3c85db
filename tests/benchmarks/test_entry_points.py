"""End to end through the console entry points: collect -> pretrain -> train -> decoder ->
bench."""

import json
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from worldmodels.checkpoint import load_high_level, load_world_model


def _run(module: str, *overrides: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", module, *overrides], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _tiny_world_model(tmp_path: Path, episode_length: int, *train: str) -> tuple[Path, Path]:
    """Collects 4 maze episodes and trains a predictor on the bundled encoder for 2 steps with
    the ``train`` overrides; returns (dataset, world model) directories."""
    data, wm = tmp_path / "data", tmp_path / "wm"
    _run(
        "benchmarks.collect",
        f"out={data}",
        "n_episodes=4",
        f"episode_length={episode_length}",
        f"hydra.run.dir={tmp_path / 'h1'}",
    )
    _run(
        "benchmarks.train",
        "mode=predictor",
        f"dataset={data}",
        "encoder=" + str(Path(__file__).parents[2] / "worldmodels/assets/pointmaze/encoder"),
        f"out={wm}",
        "train.steps=2",
        *train,
        f"hydra.run.dir={tmp_path / 'h2'}",
    )
    return data, wm


def test_recipe_end_to_end(tmp_path):
    data, enc, wm = tmp_path / "data", tmp_path / "enc", tmp_path / "wm"
    _run(
        "benchmarks.collect",
        f"out={data}",
        "n_episodes=6",
        "episode_length=6",
        f"hydra.run.dir={tmp_path / 'h1'}",
    )
    _run(
        "benchmarks.train",
        "mode=encoder",
        f"dataset={data}",
        f"out={enc}",
        "pretrain.steps=3",
        "pretrain.batch_size=8",
        "episode_stride=2",
        f"hydra.run.dir={tmp_path / 'h2'}",
    )
    assert json.loads((enc / "encoder.json").read_text())["extra"]["episode_stride"] == 2
    _run(
        "benchmarks.train",
        "mode=predictor",
        f"dataset={data}",
        f"encoder={enc}",
        f"out={wm}",
        "train.steps=3",
        "train.batch_size=8",
        "train.val_every=2",
        f"hydra.run.dir={tmp_path / 'h3'}",
    )
    _run(
        "benchmarks.train",
        "mode=decoder",
        f"dataset={data}",
        f"out={wm}",
        "decoder.steps=3",
        "decoder.batch_size=8",
        f"hydra.run.dir={tmp_path / 'h4'}",
    )
    out = tmp_path / "bench"
    stdout = _run(
        "benchmarks.bench",
        f"world_model={wm}",
        "n_episodes=2",
        "batch_size=2",
        "max_steps=3",
        "planner.n_samples=16",
        "planner.n_elites=4",
        "planner.n_iters=2",
        f"hydra.run.dir={out}",
    )
    assert "success rate" in stdout
    results = json.loads((out / "results.json").read_text())
    assert results["summary"]["n_episodes"] == 2
    assert len(results["plan_times_s"]) == 3
    assert results["config"]["planner"]["n_samples"] == 16
    assert (out / "episode_000.mp4").stat().st_size > 0
    real = iio.imread(out / "episode_000.mp4")
    imagined = iio.imread(out / "episode_000_imagined.mp4")  # real|decoded|imagined|goal
    assert imagined.shape == (4, real.shape[1], 2 * real.shape[2], 3)  # 3 steps + the start


def test_proprio_world_model_trains_and_plans(tmp_path):
    _, wm = _tiny_world_model(
        tmp_path,
        5,
        "world_model.proprio=true",
        "world_model.proprio_scale=0.5",
        "train.batch_size=8",
    )
    meta = json.loads((wm / "world_model.json").read_text())
    assert meta["predictor"]["proprio_dim"] == 4 and meta["proprio_scale"] == 0.5
    stdout = _run(
        "benchmarks.bench",
        f"world_model={wm}",
        "n_episodes=2",
        "batch_size=2",
        "max_steps=2",
        "planner.n_samples=16",
        "planner.n_elites=4",
        "planner.n_iters=2",
        f"hydra.run.dir={tmp_path / 'bench'}",
    )
    assert "success rate" in stdout


def test_high_level_model_trains_on_the_world_models_encoder(tmp_path):
    data, wm = _tiny_world_model(tmp_path, 8, "world_model.proprio=true", "train.batch_size=4")
    low = load_world_model(wm)
    common = (
        "benchmarks.train",
        "mode=high_level",
        f"dataset={data}",
        f"out={wm}",
        "train.frameskip=3",
        "train.n_frames=2",
        "train.steps=2",
        "train.batch_size=4",
    )
    refused = subprocess.run([sys.executable, "-m", *common, f"hydra.run.dir={tmp_path / 'h3'}"],
                             capture_output=True, text=True, timeout=600)  # fmt: skip
    assert refused.returncode != 0 and "predictor.latent_action_dim > 0" in refused.stderr
    _run(*common, "predictor.latent_action_dim=3", f"hydra.run.dir={tmp_path / 'h4'}")
    high = load_high_level(wm)
    assert (high.latent_action_dim, high.frameskip, high.action_dim) == (3, 3, 6)
    torch.testing.assert_close(high.proprio_mean, low.proprio_mean, rtol=0, atol=0)
    torch.testing.assert_close(high.proprio_std, low.proprio_std, rtol=0, atol=0)
    meta = json.loads((wm / "high_level" / "world_model.json").read_text())
    assert meta["extra"]["low_level"] == str(wm)
    small = ("n_episodes=2", "batch_size=2", "max_steps=4", "planner.n_samples=16",
             "planner.n_elites=4", "planner.n_iters=2", "planner.horizon=2")  # fmt: skip
    out = tmp_path / "bench"
    _run("benchmarks.bench", f"world_model={wm}", "controller=hierarchical", *small,
         "controller.high_level.planner.n_samples=8", "controller.high_level.planner.n_elites=2",
         "controller.high_level.planner.n_iters=2", f"hydra.run.dir={out}")  # fmt: skip
    results = json.loads((out / "results.json").read_text())
    assert results["controller"] == "hierarchical"
    assert len(results["high_level_plan_times_s"]) == 2  # every coarse step of 3: steps 0, 3
    frames = results["rollout_frames_per_step"]
    assert frames["high"] == 2 * 2 * 8 * 4 * 2 / (2 * 4)  # plans x B x N x H x iterations / steps
    assert frames["total"] == frames["low"] + frames["high"] > frames["high"]
    out = tmp_path / "map"
    high = ("controller.high_level.planner.n_samples=8", "controller.high_level.planner.n_elites=2",
            "controller.high_level.planner.n_iters=2")  # fmt: skip
    _run("benchmarks.subgoal_map", "env_id=wmplan/PointMaze-v0", f"world_model={wm}", *small,
         *high, "probe_points=300", f"hydra.run.dir={out}")  # fmt: skip
    report = json.loads((out / "subgoal_map.json").read_text())
    assert report["probe_rmse"] < 0.3  # the bundled encoder sees where the ball is (maze +-1.5)
    for episode in report["episodes"]:
        assert len(episode["path"]) == 5  # start and 4 steps
        assert [s["step"] for s in episode["subgoals"]] == [0, 3]
        assert all(abs(c) < 2 for s in episode["subgoals"] for c in s["xy"])
    assert iio.imread(out / "subgoal_map.png").shape[-1] in (3, 4)


def test_hierarchical_bench_needs_a_high_level(tmp_path):
    _, wm = _tiny_world_model(tmp_path, 5, "train.batch_size=4")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", f"world_model={wm}", "controller=hierarchical",
         "n_episodes=1", f"hydra.run.dir={tmp_path / 'bench'}"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode != 0
    assert "controller=hierarchical needs a high-level model" in done.stderr


def test_frameskip_world_model_plans_blocks_with_its_planning_defaults(tmp_path):
    data, wm = _tiny_world_model(
        tmp_path, 6, "train.frameskip=2", "train.n_frames=2", "train.batch_size=4"
    )
    meta = json.loads((wm / "world_model.json").read_text())
    assert meta["frameskip"] == 2 and meta["predictor"]["action_dim"] == 4
    _run(
        "benchmarks.train",
        "mode=decoder",
        f"dataset={data}",
        f"out={wm}",
        "decoder.steps=2",
        "decoder.batch_size=4",
        f"hydra.run.dir={tmp_path / 'h3'}",
    )
    (wm / "planning.yaml").write_text(
        "planner: {name: cem, horizon: 3, n_samples: 16, n_elites: 4, n_iters: 2}\n"
        "controller: {replan_every: 1}\n"
        "max_steps: 5\n"
        "n_episodes: 2\n"
    )
    out = tmp_path / "bench"
    _run("benchmarks.bench", f"world_model={wm}", "planner.horizon=2", f"hydra.run.dir={out}")
    results = json.loads((out / "results.json").read_text())
    assert results["frameskip"] == 2 and results["step_budget"] == 5
    assert results["config"]["max_steps"] == 5 and results["summary"]["n_episodes"] == 2
    planner = results["config"]["planner"]
    assert (planner["horizon"], planner["n_samples"], planner["n_iters"]) == (2, 16, 2)
    assert len(results["plan_times_s"]) == 3  # a plan per block of 2 steps: steps 0, 2, 4
    assert all("reached_at_any_step" in episode for episode in results["episodes"])
    assert results["reached_at_any_step_rate"] == results["summary"]["reached_rate"]
    real = iio.imread(out / "episode_000.mp4")
    imagined = iio.imread(out / "episode_000_imagined.mp4")
    assert real.shape[0] == 6 and imagined.shape[0] == 3  # the start, then one per block


def test_bundled_world_model_plans(tmp_path):
    stdout = _run(
        "benchmarks.bench",
        "n_episodes=2",
        "batch_size=2",
        "max_steps=2",
        f"hydra.run.dir={tmp_path}",
    )
    assert "success rate" in stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["n_episodes=0"], "n_episodes"),
        (["planner.n_elites=500"], "n_elites"),
        (["env_id=nonexistent"], "unknown environment env_id='nonexistent'"),  # issue 16
    ],
)
def test_bad_bench_config_is_rejected(tmp_path, overrides, message):
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", *overrides, f"hydra.run.dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0 and message in done.stderr


def test_dataset_from_another_env_is_rejected(tmp_path):
    data = tmp_path / "data"
    _run(
        "benchmarks.collect",
        f"out={data}",
        "n_episodes=1",
        "episode_length=2",
        f"hydra.run.dir={tmp_path / 'h'}",
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.train",
            f"dataset={data}",
            "env_id=wmplan/Other-v0",
            f"hydra.run.dir={tmp_path / 'h2'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0 and "expected wmplan/Other-v0" in done.stderr


def test_planner_overhead_benchmark(tmp_path):
    stdout = _run(
        "benchmarks.planner_overhead", "batch_sizes=[1]", "repeats=1", f"hydra.run.dir={tmp_path}"
    )
    rows = json.loads((tmp_path / "planner_overhead.json").read_text())["rows"]
    assert {r["planner"] for r in rows} == {"cem", "icem", "mppi", "gd", "adam", "gradcem"}
    assert all(0.0 <= r["overhead_fraction"] < 1.0 and r["energy_s"] > 0 for r in rows)
    assert "overhead" in stdout


def test_energy_map_draws_one_panel_per_goal(tmp_path):
    _run(
        "benchmarks.energy_map",
        "resolution=9",
        "scale=1",
        "goals=[[1.2,0.0],[0.0,1.2]]",
        f"hydra.run.dir={tmp_path}",
    )
    image = iio.imread(tmp_path / "energy_map.png")
    assert image.shape == (9, 2 * (9 + 2), 3)


def test_energy_map_of_the_wall_marks_the_dividing_wall(tmp_path):
    _run(
        "benchmarks.energy_map",
        "env_id=wmplan/Wall-v0",
        "resolution=9",
        "scale=1",
        "goals=[[0.8,-0.8]]",
        f"hydra.run.dir={tmp_path}",
    )
    image = iio.imread(tmp_path / "energy_map.png")
    assert image.shape == (9, 9 + 2, 3)
    # The middle column (x = 0) is wall, white, except at the door (y 0.69 and 0.345 of the
    # rows 1.38, 1.035, ..., -1.38 fit the ball in the gap y in [0.2, 1.0]).
    door = [2, 3]
    assert (image[door, 4] < 255).all()
    assert (np.delete(image[:, 4], door, axis=0) == 255).all()
    # both rooms are scored: white only where the energy is the highest of the map (rank 1)
    assert (image[:, [0, 8], 0] < 255).sum() >= 2 * 9 - 1
