"""Checkpoint files -> DINOv2 state dicts under the official names.

``read_state_dict`` reads:

* official DINOv2 ``.pth`` / ``.pt`` / ``.bin`` (``torch.load(..., weights_only=True)``, never
  full unpickling); a ``model`` / ``teacher`` / ``state_dict`` wrapper is unwrapped, and a
  DINOv2 training layout (``backbone.`` prefix, chunked ``blocks.{chunk}.{i}``) is reduced to
  the backbone;
* ``.safetensors`` with official names or the Hugging Face ``facebook/dinov2-*`` layout
  (``embeddings.*``, ``encoder.layer.*``), converted by ``convert_hf_state_dict``.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import Tensor

from worldmodels.errors import CheckpointError

_WRAPPER_KEYS = ("model", "teacher", "state_dict")
_HF_PREFIXES = ("embeddings.", "encoder.layer.", "layernorm.")
_HF_RENAMES = {
    "embeddings.cls_token": "cls_token",
    "embeddings.mask_token": "mask_token",
    "embeddings.position_embeddings": "pos_embed",
    "embeddings.register_tokens": "register_tokens",
    "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "layernorm.weight": "norm.weight",
    "layernorm.bias": "norm.bias",
}
_HF_BLOCK_RENAMES = {
    "attention.output.dense.": "attn.proj.",
    "layer_scale1.lambda1": "ls1.gamma",
    "layer_scale2.lambda1": "ls2.gamma",
    "norm1.": "norm1.",
    "norm2.": "norm2.",
    "mlp.fc1.": "mlp.fc1.",
    "mlp.fc2.": "mlp.fc2.",
}
_HF_QKV = re.compile(r"attention\.attention\.(query|key|value)\.(weight|bias)")
_HF_LAYER = re.compile(r"encoder\.layer\.(\d+)\.(.+)")
_CHUNKED_BLOCK = re.compile(r"^blocks\.\d+\.(\d+)\.")
_N_REPORTED = 5


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Read a checkpoint file into official DINOv2 state-dict names.

    Args:
        path: ``.pth`` / ``.pt`` / ``.bin`` (restricted ``torch.load``) or ``.safetensors``.

    Returns:
        Tensors keyed by official ``DinoVisionTransformer`` names.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: unknown extension, unreadable file, or content that is not a
            mapping of names to tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".pth", ".pt", ".bin", ".safetensors"):
        raise ValueError(
            f"unknown checkpoint extension {suffix!r} for {path}: "
            "expected .pth, .pt, .bin or .safetensors"
        )
    try:
        if suffix == ".safetensors":
            loaded: Any = safetensors.torch.load_file(path)
        else:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, safetensors.SafetensorError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(path, "file", f"could not read the checkpoint: {reason}") from err
    state_dict = _unwrap(loaded, path)
    if any(k.startswith(_HF_PREFIXES) or k.startswith("dinov2.") for k in state_dict):
        return convert_hf_state_dict(state_dict)
    return _backbone_only(state_dict)


def convert_hf_state_dict(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Rename a Hugging Face ``Dinov2Model`` state dict to official DINOv2 names.

    Separate ``query``/``key``/``value`` projections are concatenated (in that
    order) into ``attn.qkv``; ``mask_token`` is reshaped to (1, D). An optional
    ``dinov2.`` prefix (task-head models) is removed; keys with no official
    counterpart are kept unchanged so strict loading reports them.

    Args:
        state_dict: tensors keyed by Hugging Face names.

    Returns:
        Tensors keyed by official names.
    """
    converted: dict[str, Tensor] = {}
    qkv_parts: dict[tuple[int, str], dict[str, Tensor]] = {}
    for hf_key, value in state_dict.items():
        key = hf_key.removeprefix("dinov2.")
        layer = _HF_LAYER.fullmatch(key)
        if key in _HF_RENAMES:
            new_key = _HF_RENAMES[key]
            converted[new_key] = value.reshape(1, -1) if new_key == "mask_token" else value
        elif layer is None:
            converted[key] = value
        elif qkv := _HF_QKV.fullmatch(layer.group(2)):
            qkv_parts.setdefault((int(layer.group(1)), qkv.group(2)), {})[qkv.group(1)] = value
        else:
            index, rest = layer.groups()
            for old, new in _HF_BLOCK_RENAMES.items():
                if rest.startswith(old):
                    rest = new + rest.removeprefix(old)
                    break
            converted[f"blocks.{index}.{rest}"] = value
    for (index, kind), parts in sorted(qkv_parts.items()):
        absent = [p for p in ("query", "key", "value") if p not in parts]
        if absent:
            raise ValueError(f"encoder.layer.{index}: missing attention {absent} {kind}")
        converted[f"blocks.{index}.attn.qkv.{kind}"] = torch.cat(
            [parts["query"], parts["key"], parts["value"]], dim=0
        )
    return converted


def _unwrap(loaded: Any, path: Path) -> dict[str, Tensor]:
    """Unwrap ``model`` / ``teacher`` / ``state_dict`` wrappers and check the content."""
    while isinstance(loaded, dict):
        wrapper = next((k for k in _WRAPPER_KEYS if isinstance(loaded.get(k), dict)), None)
        if wrapper is None:
            break
        loaded = loaded[wrapper]
    if not isinstance(loaded, dict):
        raise ValueError(f"checkpoint {path} holds a {type(loaded).__name__}, not a state dict")
    bad = [k for k, v in loaded.items() if not isinstance(k, str) or not isinstance(v, Tensor)]
    if bad:
        raise ValueError(f"checkpoint {path} has non-tensor entries {bad[:_N_REPORTED]}")
    return loaded


def _backbone_only(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Reduce a DINOv2 training state dict to backbone keys with unchunked block names.

    Training checkpoints keep the encoder under ``backbone.`` next to projection
    heads, with blocks grouped as ``blocks.{chunk}.{i}``; released weights already
    use ``blocks.{i}`` and pass through unchanged.
    """
    if any(k.startswith("backbone.") for k in state_dict):
        state_dict = {
            k.removeprefix("backbone."): v
            for k, v in state_dict.items()
            if k.startswith("backbone.")
        }
    return {_CHUNKED_BLOCK.sub(r"blocks.\1.", k, count=1): v for k, v in state_dict.items()}
