"""Pose energy of Push-T encoders: goal distance against the block's offset from the goal pose.

For ``n_goals`` random goal poses (the pusher resting in the table corner farthest from the
block, as in the environment's goal images), `benchmarks.pose_landscape.pose_energies` per
encoder; each goal's curves are divided by their largest value and averaged over goals. And how
each encoder's goal distance ranks ``n_poses`` random poses around each goal (random pushers)
against their true distance (`pose_ranking`, Spearman, averaged over goals), beside the same
for the pixels blurred by each of ``pixel_sigmas`` and for the temporal-distance head of each
world model in ``heads`` (its distance between the frames' encodings). Writes
``pose_energy.json`` (the curves and rank correlations) and ``pose_energy.png`` (a panel for
angle, one for shift) into the hydra run directory. Run ``python -m benchmarks.pose_energy``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import gymnasium as gym
import hydra
import matplotlib
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import envs  # noqa: F401  (registers the environments)
from benchmarks.encoder_specs import build_encoder
from benchmarks.pose_landscape import (
    Features,
    blurred_pixels,
    head_features,
    pose_energies,
    pose_ranking,
    poses_around,
    token_features,
)
from envs.push_t import GOAL_PUSHER_CORNER, START_HALF_EXTENT, PushTEnv
from worldmodels.checkpoint import load_world_model

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

logger = logging.getLogger(__name__)


@hydra.main(config_path="conf", config_name="pose_energy", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    rng = np.random.default_rng(cfg.seed)
    angles = np.radians(np.linspace(-cfg.max_angle_deg, cfg.max_angle_deg, cfg.n_angles))
    shifts = np.linspace(-cfg.max_shift, cfg.max_shift, cfg.n_shifts)
    half = START_HALF_EXTENT
    goals = [
        np.array([*rng.uniform(-half, half, 2), rng.uniform(-np.pi, np.pi)])
        for _ in range(cfg.n_goals)
    ]
    corners = [GOAL_PUSHER_CORNER * np.where(goal[:2] > 0, -1.0, 1.0) for goal in goals]

    def pose_sets(env: PushTEnv) -> list[tuple[np.ndarray, np.ndarray]]:
        """The same random poses around each goal for every feature, at env's image size."""
        max_angle = np.radians(cfg.rank_max_angle_deg)
        return [poses_around(env, goal, corner, cfg.n_poses, cfg.rank_max_shift, max_angle,
                             np.random.default_rng([cfg.seed, i]))
                for i, (goal, corner) in enumerate(zip(goals, corners, strict=True))]  # fmt: skip

    curves: dict[str, dict[str, list[float]]] = {}
    ranking: dict[str, float] = {}
    for label, spec in cfg.encoders.items():
        encoder = build_encoder(spec, cfg.env_id, cfg.seed)
        env = _push_t(cfg.env_id, encoder.config.get("img_size"))  # keypoints: any size
        ranking[label] = mean_ranking(token_features(encoder), pose_sets(env))
        by_angle, by_shift = [], []
        for goal, corner in zip(goals, corners, strict=True):
            e_angle, e_shift = pose_energies(encoder, env, goal, corner, angles, shifts)
            scale = max(e_angle.max(), e_shift.max())
            by_angle.append(e_angle / scale)
            by_shift.append(e_shift / scale)
        env.close()
        curves[label] = {
            "angle": np.mean(by_angle, 0).round(4).tolist(),
            "shift": np.mean(by_shift, 0).round(4).tolist(),
        }
        logger.info("%s: by angle %s; by shift %s", label, curves[label]["angle"],
                    curves[label]["shift"])  # fmt: skip
    for label, path in cfg.heads.items():
        world_model = load_world_model(path)
        env = _push_t(cfg.env_id, world_model.image_size)
        ranking[label] = mean_ranking(head_features(world_model), pose_sets(env))
        env.close()
    env = _push_t(cfg.env_id, None)  # the registered image size
    sets = pose_sets(env)
    env.close()
    for sigma in cfg.pixel_sigmas:
        ranking[f"pixels_blur{sigma:g}"] = mean_ranking(blurred_pixels(sigma), sets)
    for label, rho in ranking.items():
        logger.info("%s: Spearman of goal distance with true pose distance %.3f", label, rho)
    result = {"angle_deg": np.degrees(angles).round(2).tolist(), "shift": shifts.round(4).tolist(),
              "n_goals": cfg.n_goals, "curves": curves, "rank_correlation": ranking,
              "n_poses": cfg.n_poses}  # fmt: skip
    out = Path(HydraConfig.get().runtime.output_dir)
    (out / "pose_energy.json").write_text(json.dumps(result, indent=1))
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
    for label, curve in curves.items():
        left.plot(result["angle_deg"], curve["angle"], marker=".", label=label)
        right.plot(result["shift"], curve["shift"], marker=".", label=label)
    left.set(xlabel="block angle offset from the goal (deg)", ylabel="goal distance / max")
    right.set(xlabel="block x shift from the goal (units)")
    left.legend()
    fig.suptitle(f"Push-T: energy of the patch tokens around {cfg.n_goals} goal poses")
    fig.tight_layout()
    fig.savefig(out / "pose_energy.png", dpi=120)
    logger.info("written to %s", out)
    return result


def _push_t(env_id: str, image_size: int | None) -> PushTEnv:
    """The unwrapped Push-T environment of ``env_id`` (at ``image_size``, None: its own)."""
    env = gym.make(env_id, **({} if image_size is None else {"image_size": image_size}))
    if not isinstance(env.unwrapped, PushTEnv):
        raise ValueError(f"env_id must be a Push-T environment, got {env_id!r}")
    return env.unwrapped


def mean_ranking(features: Features, sets: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """`pose_ranking` averaged over the goals' pose sets."""
    return float(np.mean([pose_ranking(features, images, d) for images, d in sets]))


if __name__ == "__main__":
    main()
