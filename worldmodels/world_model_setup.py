"""What a predictor run starts from: a new world model for a dataset, and the record of the
encoder it is built on.

The world model is the frozen encoder with an untrained predictor sized by the data (token
dim and count from the encoder, action and proprio dims from the dataset) and the dataset's
action (and proprioception) statistics. With ``frameskip > 1`` an action is a block of
``frameskip`` raw actions (DINO-WM): its dim is ``frameskip * A`` and each raw action of the
block is z-scored by the statistics of the raw actions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from worldmodels.encoder_loading import ENCODER_CONFIG_FILE
from worldmodels.predictor import LatentPredictor, PredictorConfig
from worldmodels.training_data import FlatEpisodes
from worldmodels.vit import DinoVisionTransformer
from worldmodels.world_model import WorldModel


def world_model_for_data(
    encoder: DinoVisionTransformer,
    data: FlatEpisodes,
    predictor_config: Callable[..., PredictorConfig],
    pool: int = 1,
    num_hist: int = 1,
    proprio: bool = False,
    proprio_scale: float = 1.0,
    frameskip: int = 1,
    proprio_statistics: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> WorldModel:
    """A world model with an untrained predictor, for training on ``data``.

    Args:
        encoder: the frozen encoder (on the device to train on).
        data: the training episodes; their frames are square.
        predictor_config: the predictor's architecture given the data's sizes: called with
            ``token_dim``, ``n_tokens``, ``action_dim`` and ``proprio_dim`` (e.g. a partial
            ``PredictorConfig``).
        pool: average-pool factor on the encoder's patch grid.
        num_hist: context frames used when rolling out for planning.
        proprio: add a proprio token per frame (the dataset's proprioception).
        proprio_scale: factor on the z-scored proprio in its token.
        frameskip: environment steps per predicted frame (``WorldModel.frameskip``).
        proprio_statistics: (p,) mean and std to z-score proprioception with, e.g. another
            world model's so that both share one latent space; None: the data's.

    Returns:
        The world model, on the encoder's device; the predictor is initialised from torch's
        global generator.
    """
    if frameskip < 1:
        raise ValueError(f"frameskip must be >= 1, got {frameskip}")
    image_size = int(data.pixels.shape[1])
    grid = encoder.patch_grid(image_size, image_size)
    acts = data.actions[data.next_index >= 0]  # (F - E, A) actions actually taken
    proprio_dim = data.proprio.shape[1] if proprio else 0
    config = predictor_config(
        token_dim=encoder.embed_dim,
        n_tokens=(grid[0] // pool) * (grid[1] // pool),
        action_dim=acts.shape[1] * frameskip,
        proprio_dim=proprio_dim,
    )
    statistics = {}
    if proprio:
        mean, std = proprio_statistics or (
            torch.from_numpy(data.proprio.mean(0)),
            torch.from_numpy(np.maximum(data.proprio.std(0), 1e-6)),
        )
        statistics = {"proprio_mean": mean, "proprio_std": std, "proprio_scale": proprio_scale}
    return WorldModel(
        encoder=encoder,
        predictor=LatentPredictor(config),
        image_size=image_size,
        pool=pool,
        num_hist=num_hist,
        action_mean=torch.from_numpy(np.tile(acts.mean(0), frameskip)),
        action_std=torch.from_numpy(np.tile(np.maximum(acts.std(0), 1e-6), frameskip)),
        frameskip=frameskip,
        **statistics,
    ).to(next(encoder.parameters()).device)


def encoder_provenance(encoder: str | Path) -> dict[str, Any]:
    """Where an encoder comes from, for a world model's metadata.

    Args:
        encoder: a ``save_encoder`` directory or the name of an official encoder.

    Returns:
        ``{"path", **its "extra" metadata (pretraining config and log)}`` for a directory,
        ``{"name"}`` for a named encoder such as ``dinov2_vits14``.
    """
    config = Path(encoder) / ENCODER_CONFIG_FILE
    if not config.is_file():
        return {"name": str(encoder)}
    return {"path": str(encoder), **json.loads(config.read_text()).get("extra", {})}
