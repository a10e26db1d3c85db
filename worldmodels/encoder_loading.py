"""Build frozen DINOv2 encoders by name and load their weights strictly.

Weight files understood: those of ``worldmodels.state_dict_formats.read_state_dict``
(official DINOv2 ``.pth``, training checkpoints, Hugging Face ``.safetensors``), and
the wmplan-native encoder directory written by ``save_encoder``:
  ``encoder.safetensors`` plus ``encoder.json`` holding the constructor kwargs
  under ``"vit"`` (a ViT) or ``"keypoints"`` (a `worldmodels.keypoint_encoder.KeypointEncoder`).
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import Tensor

from worldmodels.atomic import atomic_write
from worldmodels.errors import CheckpointError
from worldmodels.keypoint_encoder import KeypointEncoder
from worldmodels.state_dict_formats import read_state_dict
from worldmodels.vit import DinoVisionTransformer

logger = logging.getLogger(__name__)

Encoder = DinoVisionTransformer | KeypointEncoder
"""What a world model's frozen encoder is."""

ENCODER_WEIGHTS_FILE = "encoder.safetensors"
ENCODER_CONFIG_FILE = "encoder.json"
ENCODER_FORMAT = "wmplan-encoder"

_RELEASE = {"img_size": 518, "patch_size": 14, "mlp_ratio": 4.0, "init_values": 1e-5}
_REGISTERS = {"num_register_tokens": 4, "interpolate_offset": 0.0, "interpolate_antialias": True}
_SIZES = {
    "s": {"embed_dim": 384, "depth": 12, "num_heads": 6},
    "b": {"embed_dim": 768, "depth": 12, "num_heads": 12},
    "l": {"embed_dim": 1024, "depth": 24, "num_heads": 16},
}
# Constructor kwargs of the released DINOv2 backbones (facebookresearch/dinov2 hub).
ENCODER_CONFIGS: dict[str, dict[str, Any]] = {
    **{f"dinov2_vit{size}14": {**_RELEASE, **dims} for size, dims in _SIZES.items()},
    **{
        f"dinov2_vit{size}14_reg": {**_RELEASE, **dims, **_REGISTERS}
        for size, dims in _SIZES.items()
    },
}

_CUSTOM = "custom"
_CUSTOM_REQUIRED = ("img_size", "patch_size", "embed_dim", "depth", "num_heads")
_VIT_KWARGS = frozenset(inspect.signature(DinoVisionTransformer).parameters)
_N_REPORTED = 5


def load_encoder(name: str | Path, weights: str | Path | None = None, **overrides: Any) -> Encoder:
    """Build a DINOv2 encoder, load its weights strictly, and freeze it.

    ``name`` is resolved in this order:

    1. a key of ``ENCODER_CONFIGS`` (``dinov2_vits14``, ``dinov2_vitb14``,
       ``dinov2_vitl14`` and their ``_reg`` variants), with ``overrides`` applied to
       the release kwargs (e.g. ``img_size``; the checkpoint must still match);
    2. ``"custom"``: the architecture is given entirely by ``overrides``
       (``img_size, patch_size, embed_dim, depth, num_heads`` required);
    3. an existing directory written by ``save_encoder`` (or its ``encoder.json``):
       architecture and weights come from it, ``weights`` must be None and
       ``overrides`` update the saved kwargs.

    Args:
        name: encoder name or wmplan-native encoder directory.
        weights: optional checkpoint file (``.pth``, ``.pt``, ``.bin`` or
            ``.safetensors``; official or Hugging Face layout). Without it the
            encoder keeps its random initialisation.
        **overrides: ``DinoVisionTransformer`` keyword arguments.

    Returns:
        The encoder in eval mode with ``requires_grad`` False on every parameter.

    Raises:
        ValueError: unknown name or override, unreadable or mismatching checkpoint.
        FileNotFoundError: ``weights`` or a native file does not exist.
    """
    key = str(name)
    if key in ENCODER_CONFIGS or key == _CUSTOM:
        kwargs = {**ENCODER_CONFIGS.get(key, {}), **overrides}
        if weights is None:
            if key != _CUSTOM:
                logger.warning("%s built without weights: it is randomly initialised", key)
            return _freeze(_build(key, kwargs))
        with torch.device("meta"):  # skip the random init that the weights overwrite
            model = _build(key, kwargs)
        load_weights(model, weights)
        return _freeze(model)

    path = Path(name)
    if path.is_file() and path.name == ENCODER_CONFIG_FILE:
        path = path.parent
    if path.is_dir():
        if weights is not None:
            raise ValueError(f"{path} is an encoder directory and holds its own weights")
        return _freeze(_load_native(path, overrides))
    raise ValueError(
        f"unknown encoder {key!r}: expected one of {sorted(ENCODER_CONFIGS)}, {_CUSTOM!r}, "
        f"or an existing directory written by save_encoder"
    )


def save_encoder(
    model: Encoder, directory: str | Path, extra: Mapping[str, Any] | None = None
) -> Path:
    """Write ``encoder.safetensors`` and ``encoder.json`` into ``directory``.

    Each file is written to a temporary name and moved into place with
    ``os.replace``; the JSON is written last, so a directory with a JSON has
    complete weights.

    Args:
        model: the encoder to save.
        directory: target directory, created if missing.
        extra: JSON-serialisable metadata stored under ``"extra"``.

    Returns:
        The directory, for ``load_encoder(directory)``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    kind = "keypoints" if isinstance(model, KeypointEncoder) else "vit"
    meta = {"format": ENCODER_FORMAT, kind: model.config, "extra": dict(extra or {})}
    text = json.dumps(meta, indent=2)
    atomic_write(
        directory / ENCODER_WEIGHTS_FILE, lambda p: safetensors.torch.save_file(tensors, p)
    )
    atomic_write(directory / ENCODER_CONFIG_FILE, lambda p: p.write_text(text))
    return directory


def load_weights(model: Encoder, path: str | Path) -> None:
    """Load a checkpoint file into ``model`` strictly, with a readable error.

    The checkpoint's tensors become the parameters (``assign=True``, cast to the
    model's dtypes, on the CPU), so ``model`` may be built on the meta device to
    skip its random initialisation.

    Args:
        model: encoder whose architecture must match the checkpoint.
        path: checkpoint file, see ``read_state_dict``.

    Raises:
        CheckpointError: missing, unexpected or mis-shaped keys (the first few listed), or a
            tensor holding NaN or inf.
    """
    state_dict = read_state_dict(path)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        k for k in expected if k in state_dict and state_dict[k].shape != expected[k].shape
    ]
    if missing or unexpected or mismatched:
        problems = []
        if missing:
            problems.append("missing " + _describe(missing, expected))
        if unexpected:
            problems.append("unexpected " + _describe(unexpected, state_dict))
        if mismatched:
            shown = ", ".join(
                f"{k} file {tuple(state_dict[k].shape)} vs model {tuple(expected[k].shape)}"
                for k in mismatched[:_N_REPORTED]
            )
            problems.append(f"{len(mismatched)} mis-shaped: {shown}")
        raise CheckpointError(
            path, "tensors", f"do not match the encoder {model.config}: " + "; ".join(problems)
        )
    check_finite(state_dict, path)
    cast = {k: v.to(dtype=expected[k].dtype) for k, v in state_dict.items()}
    model.load_state_dict(cast, strict=True, assign=True)


MAX_WEIGHT = 1e8
"""No trained weight comes near this magnitude; a bit flipped in a float's exponent does."""


def check_finite(tensors: Mapping[str, Tensor], path: str | Path) -> None:
    """Raise a CheckpointError naming ``path`` and the first few floating-point tensors that
    hold NaN, inf or values beyond ``MAX_WEIGHT`` in magnitude (a checkpoint whose bytes were
    overwritten or bit-flipped loads as such)."""
    bad = [
        k
        for k, v in tensors.items()
        if v.is_floating_point() and not (v.isfinite().all() and v.abs().max() <= MAX_WEIGHT)
    ]
    if bad:
        raise CheckpointError(
            path,
            ", ".join(bad[:_N_REPORTED]),
            f"{len(bad)} tensors hold NaN, inf or values beyond {MAX_WEIGHT:g} in magnitude",
        )


def _check_known(kind: str, name: str, kwargs: dict[str, Any], known: set[str]) -> None:
    """Raise a ValueError naming the arguments of ``kind`` ``name`` that are not ``known``."""
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ValueError(
            f"unknown {kind} arguments {unknown} for {name!r}: expected {sorted(known)}"
        )


def _build(name: str, kwargs: dict[str, Any]) -> DinoVisionTransformer:
    """Check the kwargs of encoder ``name`` and construct it."""
    _check_known("encoder", name, kwargs, set(_VIT_KWARGS))
    missing = [k for k in _CUSTOM_REQUIRED if k not in kwargs]
    if missing:
        raise ValueError(f"encoder {name!r} needs the arguments {missing}")
    return DinoVisionTransformer(**kwargs)


def _build_keypoints(name: str, kwargs: dict[str, Any]) -> KeypointEncoder:
    """Check the kwargs of keypoint encoder ``name`` and construct it."""
    _check_known(
        "keypoint encoder", name, kwargs, set(inspect.signature(KeypointEncoder).parameters)
    )
    return KeypointEncoder(**kwargs)


def _load_native(directory: Path, overrides: Mapping[str, Any]) -> Encoder:
    """Rebuild and load an encoder directory written by ``save_encoder``."""
    config_path = directory / ENCODER_CONFIG_FILE
    if not config_path.is_file():
        raise FileNotFoundError(f"encoder config not found: {config_path}")
    try:
        meta = json.loads(config_path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"could not read encoder config {config_path}: {err}") from err
    if isinstance(meta, dict) and isinstance(meta.get("keypoints"), dict):
        model = _build_keypoints(str(directory), {**meta["keypoints"], **overrides})
        load_weights(model, directory / ENCODER_WEIGHTS_FILE)
        return model
    if not isinstance(meta, dict) or not isinstance(meta.get("vit"), dict):
        raise ValueError(
            f"encoder config {config_path} has neither 'vit' nor 'keypoints' constructor arguments"
        )
    with torch.device("meta"):
        model = _build(str(directory), {**meta["vit"], **overrides})
    load_weights(model, directory / ENCODER_WEIGHTS_FILE)
    return model


def _describe(keys: list[str], tensors: Mapping[str, Tensor]) -> str:
    """First few keys with their shapes, e.g. ``'2 keys: a (1, 4), b (3,)'``."""
    shown = ", ".join(f"{k} {tuple(tensors[k].shape)}" for k in keys[:_N_REPORTED])
    more = f" (+{len(keys) - _N_REPORTED} more)" if len(keys) > _N_REPORTED else ""
    return f"{len(keys)} keys: {shown}{more}"


def _freeze(model: Encoder) -> Encoder:
    """Eval mode and no parameter gradients: the encoder is frozen during planning."""
    model.eval()
    model.requires_grad_(False)
    return model
