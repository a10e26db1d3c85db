"""``world_model.json``, the configuration of a world-model checkpoint, read and checked field
by field before anything is built from it.

Every field is typed and range-checked: integers are integers (not floats, not booleans),
normalisation statistics are lists of finite numbers of the predictor's action (proprio)
dim, standard deviations are positive. A failure is a :class:`CheckpointError` naming the
file, the field, the value found and what was expected.
"""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path
from typing import Any

from worldmodels.errors import CheckpointError
from worldmodels.predictor import PredictorConfig

FORMAT = "wmplan-world-model"
VERSION = 1
CONFIG_FILE = "world_model.json"
_FLOAT_FIELDS = {"mlp_ratio"}
_REQUIRED_PREDICTOR_FIELDS = ("token_dim", "n_tokens", "action_dim")


def read_world_model_config(path: str | Path) -> dict[str, Any]:
    """Read and check ``world_model.json`` of a checkpoint directory (or the file itself).

    Raises:
        FileNotFoundError: the file does not exist.
        CheckpointError: it is not valid JSON, not a world-model config of this version, or a
            field is missing, mistyped or out of range.
    """
    path = Path(path)
    config_path = path if path.suffix == ".json" else path / CONFIG_FILE
    if not config_path.is_file():
        raise FileNotFoundError(f"world-model checkpoint not found: {config_path} does not exist")
    try:
        meta = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(config_path, "file", f"not valid JSON ({err})") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(config_path, "format", f"{found!r}, expected {FORMAT!r}")
    if meta.get("version") != VERSION:
        raise CheckpointError(
            config_path, "version", f"{meta.get('version')!r}, expected {VERSION}"
        )
    check_world_model_config(meta, config_path)
    return meta


MAX_PROPRIO_SCALE = 1e6
"""Largest proprio token factor loaded: beyond it the token's squared error in a goal distance
(scale**2 per z-scored unit) overflows float32 and no plan has a finite energy."""


def check_trained_env(path: str | Path, env_id: str, name: str) -> None:
    """Refuses the world model in ``path`` (called ``name`` in the message) when its
    ``world_model.json`` records another environment than ``env_id`` (``extra.env_id``; a
    model that records none passes).

    Raises:
        ValueError: naming both environments.
    """
    trained_on = read_world_model_config(path)["extra"].get("env_id")
    if trained_on and trained_on != env_id:
        raise ValueError(f"{name} was trained on {trained_on}, not {env_id}")


def check_world_model_config(meta: dict[str, Any], path: Path) -> None:
    """Check every field of a parsed ``world_model.json`` (see the module docstring).

    Raises:
        CheckpointError: naming ``path``, the field, its value and what was expected.
    """
    predictor = predictor_config(meta, path)
    for key in ("image_size", "pool", "num_hist"):
        _integer(meta, key, path)
    if "frameskip" in meta:
        _integer(meta, "frameskip", path)
    _statistics(meta, "action", predictor.action_dim, path)
    if predictor.proprio_dim:
        _statistics(meta, "proprio", predictor.proprio_dim, path)
        scale = meta.get("proprio_scale")
        if not _is_number(scale) or not 0 < scale <= MAX_PROPRIO_SCALE:
            raise CheckpointError(
                path, "proprio_scale", f"{scale!r}, expected a number in (0, {MAX_PROPRIO_SCALE:g}]"
            )
    if not isinstance(meta.get("extra", {}), dict):
        raise CheckpointError(path, "extra", f"{meta['extra']!r}, expected a mapping")
    digests = meta.get("sha256", {})
    if not isinstance(digests, dict) or not all(isinstance(v, str) for v in digests.values()):
        raise CheckpointError(path, "sha256", f"{digests!r}, expected a mapping of file to hex")


def predictor_config(meta: dict[str, Any], path: Path) -> PredictorConfig:
    """The ``predictor`` field as a :class:`PredictorConfig`.

    Raises:
        CheckpointError: missing, unknown or mistyped keys, or values the config refuses.
    """
    raw = meta.get("predictor")
    if not isinstance(raw, dict):
        raise CheckpointError(path, "predictor", f"{raw!r}, expected a mapping")
    known = {f.name for f in fields(PredictorConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise CheckpointError(path, "predictor", f"unknown keys {unknown}; known {sorted(known)}")
    for key in _REQUIRED_PREDICTOR_FIELDS:
        if key not in raw:
            raise CheckpointError(path, f"predictor.{key}", "missing")
    for key, value in raw.items():
        if key in _FLOAT_FIELDS:
            if not _is_number(value) or not math.isfinite(value):
                raise CheckpointError(path, f"predictor.{key}", f"{value!r}, expected a number")
        elif not _is_integer(value):
            raise CheckpointError(path, f"predictor.{key}", f"{value!r}, expected an integer")
    try:
        return PredictorConfig(**raw)
    except ValueError as err:
        raise CheckpointError(path, "predictor", str(err)) from err


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _integer(meta: dict[str, Any], key: str, path: Path) -> int:
    value = meta.get(key)
    if not _is_integer(value) or value < 1:
        got = "missing" if key not in meta else f"{value!r}"
        raise CheckpointError(path, key, f"{got}, expected an integer >= 1")
    return value


def _statistics(meta: dict[str, Any], name: str, dim: int, path: Path) -> None:
    """``{name}_mean`` and ``{name}_std``: lists of ``dim`` finite numbers, the std's > 0."""
    for key in (f"{name}_mean", f"{name}_std"):
        values = meta.get(key)
        if not isinstance(values, list) or len(values) != dim:
            got = "missing" if key not in meta else f"{values!r}"
            raise CheckpointError(path, key, f"{got}, expected a list of {dim} numbers")
        positive = key.endswith("_std")
        for i, value in enumerate(values):
            if not _is_number(value) or not math.isfinite(value) or (positive and value <= 0):
                expected = "a finite number > 0" if positive else "a finite number"
                raise CheckpointError(path, f"{key}[{i}]", f"{value!r}, expected {expected}")
