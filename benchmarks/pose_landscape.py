"""The encoder's energy against an object's pose offset from the goal pose (Push-T's block),
and how it ranks random poses around the goal against their true distance.

What a planning energy needs from an encoder is not that the pose can be read out linearly
(a ridge probe from flattened patch tokens cannot read an orientation that moves across
patches) but that the goal distance falls as the object nears the goal pose. For each goal
pose, the block is rendered at the goal turned by each angle offset and shifted along x by
each shift (the pusher resting where the goal image has it), and the goal distance of the
patch tokens (the mean squared difference, as `planner.energy.GoalDistance`) is taken
against the goal image's tokens.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from envs.push_t import (
    PUSHER_CLEARANCE,
    PUSHER_HALF_EXTENT,
    PUSHER_RADIUS,
    PushTEnv,
    pose_distance,
)
from envs.push_t_block import block_inside_table, distance_to_block
from worldmodels.distance_probe import rank_correlation
from worldmodels.linear_probe import patch_features
from worldmodels.vit import DinoVisionTransformer
from worldmodels.world_model import WorldModel

Features = Callable[[np.ndarray], torch.Tensor]
"""Maps images (F, S, S, 3) uint8 to features (F, K) whose mean squared difference is a
goal distance."""


def pose_energies(
    encoder: DinoVisionTransformer,
    env: PushTEnv,
    goal: np.ndarray,
    pusher: np.ndarray,
    angle_offsets: np.ndarray,
    shifts: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Goal distances of the block turned by each angle offset and shifted by each x shift.

    Args:
        encoder: frozen encoder; images are rendered at ``env.image_size``.
        env: a Push-T environment (renders from a scratch state; its episode is untouched).
        goal: (3,) goal block pose (x, y, theta).
        pusher: (2,) the pusher's position in every image, the goal image's included.
        angle_offsets: (n,) radians added to the goal angle.
        shifts: (m,) units added to the goal x.

    Returns:
        (n,) and (m,) goal distances (0 where the offset is 0: the goal image itself).
    """
    poses = [goal + [0.0, 0.0, a] for a in angle_offsets] + [goal + [s, 0.0, 0.0] for s in shifts]
    images = np.stack([env.observation_at(p, pusher)["pixels"] for p in [goal, *poses]])
    z = patch_features(encoder, images)  # (F, Np * D): every token, flattened
    energy = (z[1:] - z[:1]).square().mean(dim=1).numpy()
    return energy[: len(angle_offsets)], energy[len(angle_offsets) :]


def poses_around(
    env: PushTEnv,
    goal: np.ndarray,
    goal_pusher: np.ndarray,
    n_poses: int,
    max_shift: float,
    max_angle: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Random block poses around a goal pose, each with a random pusher, rendered.

    A pose's centre is shifted from the goal's by a distance uniform in [0, max_shift] in a
    uniform direction and its angle turned by a uniform offset in +-max_angle (poses crossing
    the walls are drawn again); its pusher is uniform in [-0.85, 0.85]^2 clear of the block.

    Returns:
        images (n_poses + 1, S, S, 3) uint8, the goal image (block at ``goal``, pusher at
        ``goal_pusher``) first; and (n_poses,) each pose's distance to the goal as the
        environment's ``info["distance"]`` (`envs.push_t.pose_distance`).
    """
    images, distances = [env.observation_at(goal, goal_pusher)["pixels"]], []
    while len(distances) < n_poses:
        radius, direction = rng.uniform(0, max_shift), rng.uniform(-np.pi, np.pi)
        turn = rng.uniform(-max_angle, max_angle)
        pose = goal + [radius * np.cos(direction), radius * np.sin(direction), turn]
        pusher = rng.uniform(-PUSHER_HALF_EXTENT, PUSHER_HALF_EXTENT, 2)
        if not block_inside_table(pose) or (
            distance_to_block(pusher, pose) < PUSHER_RADIUS + PUSHER_CLEARANCE
        ):
            continue
        images.append(env.observation_at(pose, pusher)["pixels"])
        distances.append(pose_distance(pose, goal))
    return np.stack(images), np.array(distances)


def pose_ranking(features: Features, images: np.ndarray, distances: np.ndarray) -> float:
    """Spearman correlation of the goal distance of ``features`` (the first image is the
    goal's) with the poses' true ``distances`` (n,): 1 ranks them exactly."""
    z = features(images).double()  # (n + 1, K)
    energy = (z[1:] - z[:1]).square().mean(dim=1)
    return rank_correlation(energy, torch.as_tensor(distances))


def token_features(encoder: DinoVisionTransformer) -> Features:
    """The encoder's patch tokens, flattened (the planning energy's space)."""
    return lambda images: patch_features(encoder, images)


def head_features(world_model: WorldModel) -> Features:
    """The world model's temporal-distance head phi of the frames' encodings: its distance
    ||phi(a) - phi(b)|| ranks as the mean squared difference of phi. The frames carry no
    proprioception, so a head that reads the proprio token is refused.

    Raises:
        ValueError: the model has no head, or its head reads the proprio token.
    """
    head = world_model.temporal_distance
    if head is None:
        raise ValueError("the world model has no temporal-distance head (<world model>/"
                         "temporal_distance: wmplan-train mode=temporal_distance)")  # fmt: skip
    n_visual = world_model.predictor.config.n_tokens  # the proprio token, if any, comes next
    proprio = {-1, n_visual} if world_model.proprio_dim else set()
    if proprio & set(head.config.tokens):
        raise ValueError(
            f"the head reads the proprio token (tokens {list(head.config.tokens)}): pose "
            "rankings are of images alone"
        )

    def features(images: np.ndarray) -> torch.Tensor:
        pixels = torch.as_tensor(images, device=world_model.device)[None]  # (1, F, S, S, 3)
        proprio = torch.zeros(1, len(images), world_model.proprio_dim)
        with torch.no_grad():
            z = world_model.encode(pixels, proprio if world_model.proprio_dim else None)[0]
            return head(z).cpu()  # (F, dim)

    return features


def blurred_pixels(sigma: float) -> Features:
    """The pixels in [0, 1] after a Gaussian blur of ``sigma`` px (0: the raw pixels)."""

    def features(images: np.ndarray) -> torch.Tensor:
        x = images.astype(np.float32) / 255
        return torch.as_tensor(gaussian_filter(x, (0, sigma, sigma, 0))).flatten(1)

    return features
