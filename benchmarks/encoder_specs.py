"""Encoders named by benchmark configs: a directory, a released name, or the bundled model's."""

from __future__ import annotations

import torch
from omegaconf import DictConfig

from worldmodels.bundled import bundled_world_model
from worldmodels.encoder_loading import Encoder, load_encoder


def build_encoder(spec: DictConfig, env_id: str, seed: int) -> Encoder:
    """The encoder a config entry names; with `random: true`, its architecture re-initialised
    (a ViT or a keypoint encoder)."""
    name = str(bundled_world_model(env_id) / "encoder") if spec.name == "bundled" else spec.name
    encoder = load_encoder(name, spec.get("weights"))
    if spec.get("random", False):
        torch.manual_seed(seed)
        encoder = type(encoder)(**encoder.config).requires_grad_(False)
    return encoder.eval()
