"""What the world model imagines along an episode, rendered by its decoder.

From the episode's first observation, the world model rolls out the actions that
were actually executed, open loop (its own predictions fed back, as when
planning), and the decoder renders each predicted latent. Each video frame
shows, left to right:

    real frame | decoded encoding of the real frame | imagined frame | goal

The second column is the decoder's own limit (what it can show of a perfect
latent); differences between the second and third columns are the world
model's prediction errors, growing with the horizon.
"""

from __future__ import annotations

import numpy as np
import torch

from worldmodels.decoder import LatentDecoder
from worldmodels.world_model import WorldModel


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    """(T, 3, H, W) in [0, 1] -> (T, H, W, 3) uint8."""
    return (images.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def imagined_frames(
    world_model: WorldModel,
    decoder: LatentDecoder,
    observations: np.ndarray,
    actions: np.ndarray,
    goal: np.ndarray,
    proprio: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Side-by-side frames of an episode and the world model's open-loop imagination of it.

    Args:
        world_model: the model that planned the episode.
        decoder: its decoder (``load_world_model_decoder``).
        observations: (T+1, H, W, 3) uint8 frames of the episode, the first one the start.
        actions: (T, A) actions executed between them.
        goal: (H, W, 3) uint8 goal image.
        proprio: (T+1, p) proprioception of the observations, if the model takes it.

    Returns:
        T+1 frames (H, 4W, 3) uint8: real | decoded real | imagined | goal (the start frame
        is its own imagination).
    """
    T = len(actions)
    if observations.shape[0] != T + 1:
        raise ValueError(
            f"need T+1 observations for T actions, got {observations.shape[0]} and {T}"
        )
    proprio = None if proprio is None else torch.as_tensor(proprio)[None]
    z = world_model.encode(torch.as_tensor(observations)[None], proprio)  # (1, T+1, P, D)
    act = torch.as_tensor(actions, dtype=torch.float32, device=world_model.device)
    imagined = world_model.rollout(z[:, :1], act[None, None])[0, 0]  # (T, P, D)
    imagined = torch.cat([z[0, :1], imagined])  # (T+1, P, D), from the start frame
    decoded_real = _to_uint8(decoder(world_model.visual_tokens(z[0])))
    decoded_imagined = _to_uint8(decoder(world_model.visual_tokens(imagined)))
    goals = np.broadcast_to(goal, observations.shape)
    return list(np.concatenate([observations, decoded_real, decoded_imagined, goals], axis=2))
