"""The encoder's energy against an object's pose offset from the goal pose (Push-T's block).

What a planning energy needs from an encoder is not that the pose can be read out linearly
(a ridge probe from flattened patch tokens cannot read an orientation that moves across
patches) but that the goal distance falls as the object nears the goal pose. For each goal
pose, the block is rendered at the goal turned by each angle offset and shifted along x by
each shift (the pusher resting where the goal image has it), and the goal distance of the
patch tokens (the mean squared difference, as `planner.energy.GoalDistance`) is taken
against the goal image's tokens.
"""

from __future__ import annotations

import numpy as np

from envs.push_t import PushTEnv
from worldmodels.linear_probe import patch_features
from worldmodels.vit import DinoVisionTransformer


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
