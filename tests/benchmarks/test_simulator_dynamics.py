"""benchmarks.simulator_dynamics and wmplan-bench dynamics=simulator: planning in the simulator."""

import json
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401
from benchmarks.simulator_dynamics import SimulatorDynamics
from planner import GoalDistance, MPCController, make_planner

ENV = "wmplan/PointMaze-v0"


class FrameModel:
    """Encodes a frame as two tokens: its proprioception and its mean colour per channel."""

    device, frameskip = torch.device("cpu"), 2

    def __init__(self, proprio_dim: int) -> None:
        self.proprio_dim = proprio_dim

    def encode(self, pixels, proprio=None):
        colour = pixels.float().mean(dim=(-3, -2)) / 255  # (B, T, 3)
        tokens = torch.zeros(*pixels.shape[:2], 2, self.proprio_dim)
        tokens[:, :, 0] = proprio.float()
        tokens[:, :, 1, :3] = colour
        return tokens  # (B, T, 2, p)


def stepped_encodings(model, env_id, seed, before, blocks):
    """A twin environment reset with ``seed``, stepped through the ``before`` blocks, then by
    hand through ``blocks`` (H, K, A): the encodings (H, P, D) after each of these."""
    env = gym.make(env_id)
    env.reset(seed=seed)
    for block in before:
        for action in block:
            env.step(action)
    out = []
    for block in blocks:
        for action in block:
            obs, *_ = env.step(action)
        out.append(model.encode(torch.as_tensor(obs["pixels"])[None, None],
                                torch.as_tensor(obs["proprio"])[None, None])[0, 0])  # fmt: skip
    return torch.stack(out)


def test_rollout_is_the_environment_stepped_through_each_candidate_and_leaves_it_as_it_was():
    seeds = [200000, 200001]
    envs_, twins = [gym.make(ENV) for _ in seeds], [gym.make(ENV) for _ in seeds]
    moving = [np.array([0.8, -0.6], np.float32), np.array([-0.5, 0.9], np.float32)]
    for env, twin, seed, action in zip(envs_, twins, seeds, moving, strict=True):
        for e in (env, twin):  # in motion, not at the reset state
            e.reset(seed=seed)
            e.step(action)
            e.step(action)
    model = FrameModel(proprio_dim=envs_[0].observation_space["proprio"].shape[0])
    simulator = SimulatorDynamics(model, encode_batch=5)  # chunks across candidates and problems
    simulator.bind([env.unwrapped for env in envs_])
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1.5, 1.5, size=(2, 3, 4, 2, 2))  # beyond the bounds: clipped
    actions[0, 1, 0, 0, 0] = np.nan  # applied as 0, as env.step does
    z_hist = torch.zeros(2, 1, 2, model.proprio_dim)
    z = simulator.rollout(z_hist, torch.as_tensor(actions, dtype=torch.float32).flatten(3))
    assert z.shape == (2, 3, 4, 2, model.proprio_dim)
    for b, (seed, action) in enumerate(zip(seeds, moving, strict=True)):
        for n in range(3):
            blocks = actions[b, n].astype(np.float32)
            reference = stepped_encodings(model, ENV, seed, [[action, action]], blocks)
            torch.testing.assert_close(z[b, n], reference, rtol=0, atol=0)
    for env, twin in zip(envs_, twins, strict=True):  # exactly as an untouched twin
        a, b = env.unwrapped.data, twin.unwrapped.data
        for field in ("qpos", "qvel", "ctrl", "qacc_warmstart"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        assert a.time == b.time
        action = np.array([0.3, -0.7], np.float32)
        obs, twin_obs = env.step(action)[0], twin.step(action)[0]
        np.testing.assert_array_equal(obs["proprio"], twin_obs["proprio"])
        np.testing.assert_array_equal(obs["pixels"], twin_obs["pixels"])


def test_a_plan_scores_what_executing_it_scores():
    """With the simulator as the predictor the planner's energy is the real one: executing the
    first plan in a twin environment gives the cost it was chosen with."""
    env = gym.make(ENV)
    obs, info = env.reset(seed=200002)
    model = FrameModel(proprio_dim=obs["proprio"].shape[0])
    simulator = SimulatorDynamics(model)
    simulator.bind([env.unwrapped])
    planner = make_planner("cem", horizon=3, action_dim=4, n_samples=16, n_elites=4, n_iters=2)
    controller = MPCController(simulator, planner, cost=GoalDistance("all"),
                               generator=torch.Generator().manual_seed(0))  # fmt: skip
    controller.reset(info["goal_obs"])
    controller.act(obs)
    plan = controller.last_result.actions[0].reshape(3, 2, 2).numpy()  # (H, K, A)
    z = stepped_encodings(model, ENV, 200002, [], plan)
    goal = info["goal_obs"]
    z_goal = model.encode(torch.as_tensor(goal["pixels"])[None, None],
                          torch.as_tensor(goal["proprio"])[None, None])[0, 0]  # fmt: skip
    real = (z - z_goal).square().mean()
    assert float(controller.last_result.cost[0]) == pytest.approx(float(real), rel=1e-5)


def test_task_distance_encodes_each_block_as_the_environments_distance_to_its_goal():
    """With ``task_distance`` a block's encoding is ``info["distance"]`` after it, observations
    encode as 0, and a plan's cost (GoalDistance, last step) is its squared final distance."""
    env = gym.make(ENV)
    obs, info = env.reset(seed=200003)
    simulator = SimulatorDynamics(FrameModel(proprio_dim=4), task_distance=True)
    simulator.bind([env.unwrapped])
    actions = np.random.default_rng(1).uniform(-1, 1, size=(1, 2, 3, 2, 2))
    z = simulator.rollout(torch.zeros(1, 1, 1, 1),
                          torch.as_tensor(actions, dtype=torch.float32).flatten(3))  # fmt: skip
    assert z.shape == (1, 2, 3, 1, 1)
    for n in range(2):
        twin = gym.make(ENV)
        twin.reset(seed=200003)
        for h, block in enumerate(actions[0, n].astype(np.float32)):
            for action in block:
                *_, twin_info = twin.step(action)
            assert float(z[0, n, h, 0, 0]) == pytest.approx(twin_info["distance"], rel=1e-6)
    pixels = torch.as_tensor(obs["pixels"])[None, None]
    assert torch.equal(simulator.encode(pixels), torch.zeros(1, 1, 1, 1))
    planner = make_planner("cem", horizon=3, action_dim=4, n_samples=16, n_elites=4, n_iters=2)
    controller = MPCController(simulator, planner, cost=GoalDistance("last"),
                               generator=torch.Generator().manual_seed(0))  # fmt: skip
    controller.reset(info["goal_obs"])
    controller.act(obs)
    plan = controller.last_result.actions[0].reshape(3, 2, 2).numpy()
    twin = gym.make(ENV)
    twin.reset(seed=200003)
    for action in plan.reshape(6, 2):
        *_, twin_info = twin.step(action)
    cost = float(controller.last_result.cost[0])
    assert cost == pytest.approx(twin_info["distance"] ** 2, rel=1e-5)
    assert twin_info["distance"] < info["distance"]  # the best of 16 x 2 moves towards the goal


def test_rollout_needs_one_bound_environment_per_problem():
    simulator = SimulatorDynamics(FrameModel(proprio_dim=4))
    with pytest.raises(ValueError, match="0 bound environments"):
        simulator.rollout(torch.zeros(1, 1, 2, 4), torch.zeros(1, 2, 3, 4))
    with pytest.raises(ValueError, match="at least one environment"):
        simulator.bind([])
    with pytest.raises(ValueError, match="encode_batch must be >= 1"):
        SimulatorDynamics(FrameModel(proprio_dim=4), encode_batch=0)


def test_bench_plans_in_the_simulator_and_refuses_what_it_cannot_do(tmp_path):
    args = [sys.executable, "-m", "benchmarks.bench", "n_episodes=2", "max_steps=4", "threads=1",
            "planner.n_samples=8", "planner.n_elites=2", "planner.n_iters=1",
            "video_episodes=0"]  # fmt: skip
    subprocess.run([*args, "dynamics=simulator", f"hydra.run.dir={tmp_path}"], check=True,
                   capture_output=True, text=True)  # fmt: skip
    result = json.loads((tmp_path / "results.json").read_text())
    assert result["dynamics"] == "simulator" and len(result["episodes"]) == 2
    run = subprocess.run([*args, "dynamics=oracle", f"hydra.run.dir={tmp_path / 'x'}"],
                         capture_output=True, text=True)  # fmt: skip
    assert run.returncode != 0
    assert "dynamics must be one of ('model', 'simulator'), got 'oracle'" in run.stderr
    adam = [*args[:3], "dynamics=simulator", "planner=adam", f"hydra.run.dir={tmp_path / 'y'}"]
    run = subprocess.run(adam, capture_output=True, text=True)
    assert run.returncode != 0
    assert "dynamics=simulator has no gradients: planner adam needs them" in run.stderr
    task_dir = tmp_path / "task"
    subprocess.run([*args, "dynamics=simulator", "energy=task", f"hydra.run.dir={task_dir}"],
                   check=True, capture_output=True, text=True)  # fmt: skip
    result = json.loads((task_dir / "results.json").read_text())
    assert (result["dynamics"], result["energy"]) == ("simulator", "task")
    for bad, message in [
        (["energy=task"], "energy=task reads the simulator's state: it needs dynamics=simulator"),
        (["dynamics=simulator", "energy=oracle"], "energy must be one of ('model', 'task')"),
        (["dynamics=simulator", "energy=task", "controller=hierarchical"],
         "energy=task plans with one MPC controller, got controller.name=hierarchical"),
    ]:  # fmt: skip
        run = subprocess.run([*args, *bad, f"hydra.run.dir={tmp_path / 'z'}"],
                             capture_output=True, text=True)  # fmt: skip
        assert run.returncode != 0 and message in run.stderr, run.stderr[-500:]


def test_costs_bind_to_the_world_models_attachments_through_the_simulator():
    model = FrameModel(proprio_dim=4)
    model.temporal_distance = object()  # a head a cost reads (TemporalDistance)
    simulator = SimulatorDynamics(model)
    assert simulator.temporal_distance is model.temporal_distance
    assert simulator.frameskip == 2 and simulator.proprio_dim == 4
    with pytest.raises(AttributeError):
        simulator.no_such_head  # noqa: B018
