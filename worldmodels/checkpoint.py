"""World-model checkpoints: safetensors for tensors, JSON for configuration.

A checkpoint directory holds::

    world_model.json            format, predictor config, image size, pooling,
                                history, frame skip, action (and proprio) statistics,
                                SHA-256 of the weights files, provenance
    predictor.safetensors       predictor weights
    encoder/encoder.json        encoder architecture (see ``save_encoder``)
    encoder/encoder.safetensors encoder weights
    decoder/                    optional visualisation decoder (see ``worldmodels.decoder``),
                                tied to the encoder by the SHA-256 of its weights file
    high_level/                 optional high-level world model over latent macro-actions
                                (``wmplan-train mode=high_level``), a checkpoint of this
                                layout on the same encoder (same SHA-256)
    ensemble/<name>/            optional further predictors of the same dynamics (an ensemble,
                                PETS), each a checkpoint of this layout on the same encoder
                                (same SHA-256) and statistics, loaded into ``ensemble``

Nothing is unpickled when loading. Loading checks every field of ``world_model.json``
(:mod:`worldmodels.checkpoint_config`), the weights files against the SHA-256 digests recorded
at saving (checkpoints saved before digests were recorded skip this) and every weight for
NaN and inf; a failure is a :class:`CheckpointError` naming the file and the field or tensor.
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
from worldmodels.checkpoint_config import (
    CONFIG_FILE,
    FORMAT,
    VERSION,
    predictor_config,
    read_world_model_config,
)
from worldmodels.decoder import DECODER_CONFIG_FILE, LatentDecoder, load_decoder
from worldmodels.encoder_loading import (
    ENCODER_WEIGHTS_FILE,
    check_finite,
    load_encoder,
    save_encoder,
)
from worldmodels.errors import CheckpointError
from worldmodels.goal_policy import CONFIG_FILE as POLICY_CONFIG_FILE
from worldmodels.goal_policy import GoalPolicy, load_goal_policy
from worldmodels.predictor import LatentPredictor
from worldmodels.temporal_distance import CONFIG_FILE as HEAD_CONFIG_FILE
from worldmodels.temporal_distance import TemporalDistanceHead, load_temporal_distance
from worldmodels.world_model import WorldModel

PREDICTOR_FILE = "predictor.safetensors"
ENCODER_DIR = "encoder"
DECODER_DIR = "decoder"
HIGH_LEVEL_DIR = "high_level"
TEMPORAL_DISTANCE_DIR = "temporal_distance"
GOAL_POLICY_DIR = "goal_policy"
ENSEMBLE_DIR = "ensemble"


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
        "sha256": {name: file_digest(directory / name) for name in _WEIGHTS_FILES},
        "extra": extra or {},
    }
    if world_model.proprio_dim:
        meta["proprio_mean"] = world_model.proprio_mean.tolist()
        meta["proprio_std"] = world_model.proprio_std.tolist()
        meta["proprio_scale"] = world_model.proprio_scale
    text = json.dumps(meta, indent=2)
    atomic_write(directory / CONFIG_FILE, lambda p: p.write_text(text))
    return directory


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
        CheckpointError: a file is corrupted (digest, unreadable, NaN or inf weights), a field
            of ``world_model.json`` is missing, mistyped or out of range, or the weights do
            not match the configuration.
    """
    path = Path(path)
    directory = path.parent if path.suffix == ".json" else path
    config_path = directory / CONFIG_FILE
    meta = read_world_model_config(directory)
    _check_digests(meta, directory)
    encoder = load_encoder(directory / ENCODER_DIR)
    predictor = LatentPredictor(predictor_config(meta, config_path))
    weights_path = directory / PREDICTOR_FILE
    if not weights_path.is_file():
        raise FileNotFoundError(f"predictor weights not found: {weights_path}")
    try:
        state = safetensors.torch.load_file(weights_path)
    except (safetensors.SafetensorError, OSError) as err:
        raise CheckpointError(weights_path, "file", f"could not read the weights: {err}") from err
    check_finite(state, weights_path)
    try:
        predictor.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first_lines = " ".join(str(err).splitlines()[:2])
        raise CheckpointError(
            config_path,
            "predictor",
            f"{meta['predictor']} does not match the weights in {weights_path}: {first_lines}",
        ) from err
    try:
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
    except ValueError as err:  # the fields are each valid but do not fit together
        raise CheckpointError(config_path, "configuration", str(err)) from err
    model.predictor.requires_grad_(False)
    model.temporal_distance = load_world_model_temporal_distance(directory)
    model.goal_policy = load_world_model_goal_policy(directory)
    model.to(device)
    model.ensemble = _load_ensemble(directory, model, device, num_hist)
    return model


_WEIGHTS_FILES = (PREDICTOR_FILE, f"{ENCODER_DIR}/{ENCODER_WEIGHTS_FILE}")


def file_digest(path: Path) -> str:
    """SHA-256 of a file (hex)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_digests(meta: dict[str, Any], directory: Path) -> None:
    """Compare the weights files with the digests ``world_model.json`` records, if any.

    Raises:
        CheckpointError: a file's SHA-256 differs from the recorded one.
    """
    recorded = meta.get("sha256", {})
    for name in _WEIGHTS_FILES:
        file = directory / name
        if name in recorded and file.is_file() and file_digest(file) != recorded[name]:
            raise CheckpointError(
                directory / name,
                "file",
                f"its SHA-256 differs from the one {directory / CONFIG_FILE} recorded when "
                "it was saved: the file was changed or corrupted since",
            )


def _frameskip(meta: dict[str, Any], directory: Path) -> int:
    """The frame skip of ``world_model.json`` (1 for checkpoints saved before it was recorded;
    its type and range are checked with the other fields).

    Raises:
        CheckpointError: it differs from the training run's ``train.frameskip`` recorded in the
            provenance.
    """
    frameskip = meta.get("frameskip", 1)
    trained = meta.get("extra", {}).get("train", {}).get("frameskip", frameskip)
    if trained != frameskip:
        raise CheckpointError(
            directory / CONFIG_FILE,
            "frameskip",
            f"{frameskip} differs from the training run's train.frameskip {trained}",
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
    return file_digest(Path(directory) / ENCODER_DIR / ENCODER_WEIGHTS_FILE)


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


def load_world_model_temporal_distance(
    directory: str | Path, device: str | torch.device = "cpu"
) -> TemporalDistanceHead | None:
    """The temporal-distance head saved with a world model, or None when it has none.

    Raises:
        CheckpointError: the head was trained on another encoder than the checkpoint's.
    """
    directory = Path(directory)
    if not (directory / TEMPORAL_DISTANCE_DIR).is_dir():
        return None
    head = load_temporal_distance(directory / TEMPORAL_DISTANCE_DIR, device)
    _check_trained_on_encoder(
        directory, directory / TEMPORAL_DISTANCE_DIR / HEAD_CONFIG_FILE, "temporal_distance"
    )
    return head


def load_world_model_goal_policy(
    directory: str | Path, device: str | torch.device = "cpu"
) -> GoalPolicy | None:
    """The goal-conditioned policy saved with a world model, or None when it has none.

    Raises:
        CheckpointError: the policy was trained on another encoder than the checkpoint's.
    """
    directory = Path(directory)
    if not (directory / GOAL_POLICY_DIR).is_dir():
        return None
    policy = load_goal_policy(directory / GOAL_POLICY_DIR, device)
    _check_trained_on_encoder(
        directory, directory / GOAL_POLICY_DIR / POLICY_CONFIG_FILE, "goal_policy"
    )
    return policy


def _check_trained_on_encoder(directory: Path, config: Path, mode: str) -> None:
    """A part trained on a world model's latents (its ``config`` records the encoder's digest in
    ``extra.encoder_sha256``) must have been trained on ``directory``'s encoder.

    Raises:
        CheckpointError: the digests differ (naming ``wmplan-train mode=<mode>`` to retrain it).
    """
    meta = json.loads(config.read_text())
    if meta["extra"].get("encoder_sha256") != encoder_digest(directory):
        raise CheckpointError(
            config,
            "extra.encoder_sha256",
            f"another encoder than {directory / ENCODER_DIR}'s; retrain it with "
            f"wmplan-train mode={mode} out={directory}",
        )


def _check_same_encoder(part: Path, directory: Path, remedy: str) -> None:
    """A checkpoint inside ``directory`` (its high level, an ensemble member) must carry the
    same encoder weights as ``directory``: its latents live in the same space.

    Raises:
        CheckpointError: the encoder files' SHA-256 differ (naming ``remedy``).
    """
    if encoder_digest(part) != encoder_digest(directory):
        raise CheckpointError(
            part / CONFIG_FILE,
            "encoder",
            f"another encoder than {directory / ENCODER_DIR}'s; {remedy}",
        )


def _load_ensemble(
    directory: Path, model: WorldModel, device: str | torch.device, num_hist: int | None
) -> tuple[WorldModel, ...]:
    """The members in ``directory/ensemble/*/`` (sorted by name), sharing ``model``'s encoder
    (and its ``num_hist`` override, if any).

    Raises:
        CheckpointError: a member was trained on another encoder, or takes other actions,
            tokens, proprioception or statistics than ``model``.
    """
    members = []
    for member_dir in sorted(p for p in (directory / ENSEMBLE_DIR).glob("*") if p.is_dir()):
        config_path = member_dir / CONFIG_FILE
        _check_same_encoder(member_dir, directory, "retrain it on the model's encoder")
        member = load_world_model(member_dir, device, num_hist)
        for field in ("action_mean", "action_std", "proprio_mean", "proprio_std"):
            mine, theirs = getattr(model, field, None), getattr(member, field, None)
            if (mine is None) != (theirs is None) or (
                mine is not None and not torch.equal(mine, theirs)
            ):
                raise CheckpointError(config_path, field, f"differs from {directory}'s")
        for field in ("frameskip", "num_hist", "proprio_scale", "image_size", "pool"):
            if getattr(member, field) != getattr(model, field):
                raise CheckpointError(config_path, field, f"differs from {directory}'s")
        member.encoder = model.encoder  # the same weights (digest above): one copy
        members.append(member)
    return tuple(members)


def load_high_level(directory: str | Path, device: str | torch.device = "cpu") -> WorldModel | None:
    """The high-level world model saved with a world model, or None when it has none.

    Raises:
        CheckpointError: it has no latent actions, or was trained on another encoder than the
            checkpoint's (their subgoals would be in another latent space).
    """
    directory = Path(directory)
    if not (directory / HIGH_LEVEL_DIR).is_dir():
        return None
    high = load_world_model(directory / HIGH_LEVEL_DIR, device)
    config_path = directory / HIGH_LEVEL_DIR / CONFIG_FILE
    if not high.latent_action_dim:
        raise CheckpointError(config_path, "predictor.latent_action_dim", "0: no latent actions")
    _check_same_encoder(
        directory / HIGH_LEVEL_DIR,
        directory,
        f"retrain it with wmplan-train mode=high_level out={directory}",
    )
    high.temporal_distance = load_world_model_temporal_distance(directory, device)  # one space
    return high
