"""World-model checkpoints: safetensors for tensors, JSON for configuration.

A checkpoint directory holds::

    world_model.json            format, predictor config, image size, pooling,
                                history, frame skip, action (and proprio) statistics,
                                provenance
    predictor.safetensors       predictor weights
    encoder/encoder.json        encoder architecture (see ``save_encoder``)
    encoder/encoder.safetensors encoder weights
    decoder/                    optional visualisation decoder (see ``worldmodels.decoder``),
                                tied to the encoder by the SHA-256 of its weights file

Nothing is unpickled when loading.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch

from worldmodels.atomic import atomic_write
from worldmodels.decoder import DECODER_CONFIG_FILE, LatentDecoder, load_decoder
from worldmodels.encoder_loading import ENCODER_WEIGHTS_FILE, load_encoder, save_encoder
from worldmodels.predictor import LatentPredictor, PredictorConfig
from worldmodels.world_model import WorldModel

FORMAT = "wmplan-world-model"
VERSION = 1
CONFIG_FILE = "world_model.json"
PREDICTOR_FILE = "predictor.safetensors"
ENCODER_DIR = "encoder"
DECODER_DIR = "decoder"


def save_world_model(
    world_model: WorldModel, directory: str | Path, extra: dict[str, Any] | None = None
) -> Path:
    """Write a world model to ``directory`` (created if needed); JSON last, atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_encoder(world_model.encoder, directory / ENCODER_DIR)
    weights = {
        k: v.detach().cpu().contiguous() for k, v in world_model.predictor.state_dict().items()
    }
    atomic_write(directory / PREDICTOR_FILE, lambda p: safetensors.torch.save_file(weights, p))
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "predictor": world_model.predictor.config.to_dict(),
        "image_size": world_model.image_size,
        "pool": world_model.pool,
        "num_hist": world_model.num_hist,
        "frameskip": world_model.frameskip,
        "action_mean": world_model.action_mean.tolist(),
        "action_std": world_model.action_std.tolist(),
        "extra": extra or {},
    }
    if world_model.proprio_dim:
        meta["proprio_mean"] = world_model.proprio_mean.tolist()
        meta["proprio_std"] = world_model.proprio_std.tolist()
        meta["proprio_scale"] = world_model.proprio_scale
    text = json.dumps(meta, indent=2)
    atomic_write(directory / CONFIG_FILE, lambda p: p.write_text(text))
    return directory


def read_world_model_config(path: str | Path) -> dict[str, Any]:
    """Read and check ``world_model.json`` of a checkpoint directory (or the file itself)."""
    path = Path(path)
    config_path = path if path.suffix == ".json" else path / CONFIG_FILE
    if not config_path.is_file():
        raise FileNotFoundError(f"world-model checkpoint not found: {config_path} does not exist")
    try:
        meta = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"could not read world-model config {config_path}: {err}") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{config_path} is not a {FORMAT!r} config")
    if meta.get("version") != VERSION:
        raise ValueError(f"{config_path}: version {meta.get('version')}, expected {VERSION}")
    return meta


def load_world_model(
    path: str | Path, device: str | torch.device = "cpu", num_hist: int | None = None
) -> WorldModel:
    """Load a world model saved by :func:`save_world_model`.

    Args:
        path: checkpoint directory, or its ``world_model.json``.
        device: where to put the model.
        num_hist: override the rollout history length.

    Raises:
        FileNotFoundError: a checkpoint file is missing.
        ValueError: a file is corrupted or does not match its configuration.
    """
    path = Path(path)
    directory = path.parent if path.suffix == ".json" else path
    meta = read_world_model_config(directory)
    encoder = load_encoder(directory / ENCODER_DIR)
    predictor = LatentPredictor(PredictorConfig(**meta["predictor"]))
    weights_path = directory / PREDICTOR_FILE
    if not weights_path.is_file():
        raise FileNotFoundError(f"predictor weights not found: {weights_path}")
    try:
        state = safetensors.torch.load_file(weights_path)
    except (safetensors.SafetensorError, OSError) as err:
        raise ValueError(f"could not read predictor weights {weights_path}: {err}") from err
    try:
        predictor.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(
            f"predictor weights {weights_path} do not match its config: {err}"
        ) from err
    model = WorldModel(
        encoder=encoder,
        predictor=predictor.eval(),
        image_size=meta["image_size"],
        pool=meta["pool"],
        num_hist=num_hist if num_hist is not None else meta["num_hist"],
        action_mean=torch.tensor(meta["action_mean"]),
        action_std=torch.tensor(meta["action_std"]),
        frameskip=_frameskip(meta, directory),
        **_proprio_statistics(meta),
    )
    model.predictor.requires_grad_(False)
    return model.to(device)


def _frameskip(meta: dict[str, Any], directory: Path) -> int:
    """The frame skip of ``world_model.json`` (1 for checkpoints saved before it was recorded).

    Raises:
        ValueError: it is not a positive integer, or differs from the training run's
            ``train.frameskip`` recorded in the provenance.
    """
    frameskip = meta.get("frameskip", 1)
    if not isinstance(frameskip, int) or isinstance(frameskip, bool) or frameskip < 1:
        raise ValueError(
            f"{directory / CONFIG_FILE}: frameskip must be an integer >= 1, got {frameskip!r}"
        )
    trained = meta.get("extra", {}).get("train", {}).get("frameskip", frameskip)
    if trained != frameskip:
        raise ValueError(
            f"{directory / CONFIG_FILE}: frameskip {frameskip} differs from the training run's "
            f"train.frameskip {trained}"
        )
    return frameskip


def _proprio_statistics(meta: dict[str, Any]) -> dict[str, Any]:
    """WorldModel's proprio keyword arguments from ``world_model.json`` (none if absent)."""
    if "proprio_mean" not in meta:
        return {}
    return {
        "proprio_mean": torch.tensor(meta["proprio_mean"]),
        "proprio_std": torch.tensor(meta["proprio_std"]),
        "proprio_scale": meta["proprio_scale"],
    }


def encoder_digest(directory: str | Path) -> str:
    """SHA-256 of a world-model checkpoint's encoder weights file (hex)."""
    return hashlib.sha256(
        (Path(directory) / ENCODER_DIR / ENCODER_WEIGHTS_FILE).read_bytes()
    ).hexdigest()


def load_world_model_decoder(
    directory: str | Path, device: str | torch.device = "cpu"
) -> LatentDecoder | None:
    """The visualisation decoder saved with a world model, or None when it has none.

    Raises:
        ValueError: the decoder was trained on another encoder than the checkpoint's.
    """
    directory = Path(directory)
    if not (directory / DECODER_DIR).is_dir():
        return None
    decoder = load_decoder(directory / DECODER_DIR, device)
    meta = json.loads((directory / DECODER_DIR / DECODER_CONFIG_FILE).read_text())
    trained_on = meta["extra"].get("encoder_sha256")
    if trained_on != encoder_digest(directory):
        raise ValueError(
            f"the decoder in {directory / DECODER_DIR} was trained on another encoder than "
            f"{directory / ENCODER_DIR}; retrain it with wmplan-train mode=decoder out={directory}"
        )
    return decoder
