"""``wmplan-bench``: zero-shot planning benchmark from pixels.

For each start/goal pair (seeded, disjoint from the training data's seeds) the
environment renders the goal image, the controller encodes it once, and MPC
plans in the world model's latent space for a fixed budget of environment
steps. Success is the environment's own test at the end of the budget; the
planner never sees it. Writes ``results.json`` and videos into the hydra run
directory: ``episode_XXX.mp4`` (observation | goal) and, when the world model
has a decoder, ``episode_XXX_imagined.mp4`` (real | decoded real | imagined
open loop | goal, see ``benchmarks.imagination``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import gymnasium as gym
import hydra
import imageio.v3 as iio
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

import envs  # noqa: F401  (registers the environments)
from benchmarks.imagination import imagined_frames
from benchmarks.report import format_table, summarize
from planner import MPCController, make_planner
from worldmodels.checkpoint import (
    load_world_model,
    load_world_model_decoder,
    read_world_model_config,
)

logger = logging.getLogger(__name__)

BUNDLED = {"wmplan/PointMaze-v0": "pointmaze"}


def bundled_world_model(env_id: str) -> Path:
    """Directory of the world model shipped with the package for ``env_id``."""
    if env_id not in BUNDLED:
        raise ValueError(
            f"no bundled world model for {env_id}; pass world_model=PATH "
            f"(bundled: {sorted(BUNDLED)})"
        )
    return Path(str(resources.files("worldmodels") / "assets" / BUNDLED[env_id]))


@dataclass
class RecordedEpisode:
    """An episode kept for videos: observations (T+1, H, W, 3) uint8 and their proprio
    (T+1, p), actions (T, A), goal (H, W, 3) uint8."""

    observations: list[np.ndarray]
    proprio: list[np.ndarray]
    actions: list[np.ndarray]
    goal: np.ndarray


def _stack(observations: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Observations of E environments -> {"pixels": (E, H, W, 3), "proprio": (E, p)}."""
    return {key: np.stack([o[key] for o in observations]) for key in ("pixels", "proprio")}


def run_batch(
    controller: MPCController,
    env_id: str,
    env_kwargs: dict,
    seeds: list[int],
    max_steps: int,
    record: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[RecordedEpisode]]:
    """Run episodes with the given seeds in lockstep, planning them as one batch.

    Returns:
        successes at the end (E,), whether the goal was reached at any step (E,), final
        distances (E,), and the first ``record`` episodes.
    """
    envs_ = [gym.make(env_id, **env_kwargs) for _ in seeds]
    resets = [env.reset(seed=seed) for env, seed in zip(envs_, seeds, strict=True)]
    obs = _stack([o for o, _ in resets])
    goals = _stack([info["goal_obs"] for _, info in resets])
    controller.reset(goals)
    recorded = [
        RecordedEpisode([obs["pixels"][i]], [obs["proprio"][i]], [], goals["pixels"][i])
        for i in range(record)
    ]
    infos = [info for _, info in resets]
    reached = np.zeros(len(seeds), dtype=bool)
    for _ in tqdm(range(max_steps), desc=f"episodes {seeds[0]}..{seeds[-1]}", unit="step"):
        actions = controller.act(obs)
        steps = [env.step(a) for env, a in zip(envs_, actions, strict=True)]
        obs = _stack([s[0] for s in steps])
        infos = [s[4] for s in steps]
        reached |= np.array([info["success"] for info in infos])
        for i, episode in enumerate(recorded):
            episode.actions.append(actions[i])
            episode.observations.append(obs["pixels"][i])
            episode.proprio.append(obs["proprio"][i])
    for env in envs_:
        env.close()
    success = np.array([info["success"] for info in infos])
    distance = np.array([info["distance"] for info in infos])
    return success, reached, distance, recorded


def write_video(path: Path, frames: list[np.ndarray], scale: int = 4, fps: int = 4) -> None:
    """Write frames (H, W, 3) uint8, upscaled by ``scale`` (nearest), as an mp4."""
    big = [np.repeat(np.repeat(f, scale, axis=0), scale, axis=1) for f in frames]
    iio.imwrite(path, np.stack(big), fps=fps, codec="libx264", macro_block_size=1)


@hydra.main(config_path="conf", config_name="bench", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    if cfg.n_episodes < 1 or cfg.max_steps < 1 or cfg.batch_size < 1:
        raise ValueError(
            f"n_episodes, max_steps and batch_size must be >= 1, got {cfg.n_episodes}, "
            f"{cfg.max_steps}, {cfg.batch_size}"
        )
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    wm_path = Path(cfg.world_model) if cfg.world_model else bundled_world_model(cfg.env_id)
    wm_meta = read_world_model_config(wm_path)
    trained_on = wm_meta["extra"].get("env_id")
    if trained_on and trained_on != cfg.env_id:
        raise ValueError(f"world model {wm_path} was trained on {trained_on}, not {cfg.env_id}")
    world_model = load_world_model(wm_path, device=cfg.device)
    env_kwargs = OmegaConf.to_container(cfg.env_kwargs)
    action_space = gym.make(cfg.env_id, **env_kwargs).action_space
    planner = make_planner(
        **OmegaConf.to_container(cfg.planner),
        action_dim=action_space.shape[0],
        low=torch.as_tensor(action_space.low),
        high=torch.as_tensor(action_space.high),
        device=cfg.device,
    )
    generator = torch.Generator(device=cfg.device).manual_seed(cfg.seed)
    controller = MPCController(
        world_model,
        planner,
        cost=instantiate(cfg.cost),
        generator=generator,
        **OmegaConf.to_container(cfg.controller),
    )
    seeds = [cfg.seed + i for i in range(cfg.n_episodes)]
    successes, reached, distances, videos = [], [], [], []
    for start in range(0, len(seeds), cfg.batch_size):
        batch = seeds[start : start + cfg.batch_size]
        record = max(0, min(cfg.video_episodes - len(videos), len(batch)))
        s, r, d, episodes = run_batch(
            controller, cfg.env_id, env_kwargs, batch, cfg.max_steps, record
        )
        successes.append(s)
        reached.append(r)
        distances.append(d)
        videos.extend(episodes)
    successes, distances = np.concatenate(successes), np.concatenate(distances)
    reached = np.concatenate(reached)
    summary = summarize(
        successes, reached, distances, np.array(controller.plan_times_s), cfg.batch_size
    )
    decoder = load_world_model_decoder(wm_path, device=cfg.device) if cfg.imagined_video else None
    for i, episode in enumerate(videos):
        frames = [np.concatenate([o, episode.goal], axis=1) for o in episode.observations]
        write_video(out_dir / f"episode_{i:03d}.mp4", frames)
        if decoder is not None:
            imagined = imagined_frames(
                world_model,
                decoder,
                np.stack(episode.observations),
                np.stack(episode.actions),
                episode.goal,
                np.stack(episode.proprio) if world_model.proprio_dim else None,
            )
            write_video(out_dir / f"episode_{i:03d}_imagined.mp4", imagined)
    results = {
        "summary": summary,
        "episodes": [
            {"seed": s, "success": bool(ok), "reached": bool(r), "final_distance": float(d)}
            for s, ok, r, d in zip(seeds, successes, reached, distances, strict=True)
        ],
        "plan_times_s": controller.plan_times_s,
        "world_model": str(wm_path),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    print(format_table(summary, f"wmplan-bench  {cfg.env_id}  planner={cfg.planner.name}"))
    print(f"results and videos in {out_dir}")
    return results


if __name__ == "__main__":
    main()
