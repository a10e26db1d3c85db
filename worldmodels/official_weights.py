"""Fetching the official DINOv2 checkpoints into a local cache (never at import time).

The files are the ones the DINOv2 release links (Oquab et al. 2023,
https://github.com/facebookresearch/dinov2): `<base>/<arch>/<arch>_pretrain.pth` and, for
the register variants (Darcet et al. 2024), `<base>/<arch>/<arch>_reg4_pretrain.pth`.
`load_encoder(name, weights=fetch_official_weights(name))` then loads one strictly.
"""

from __future__ import annotations

import os
from pathlib import Path

from torch.hub import download_url_to_file

from worldmodels.encoder_loading import ENCODER_CONFIGS

OFFICIAL_BASE_URL = "https://dl.fbaipublicfiles.com/dinov2"


def default_cache_dir() -> Path:
    """`$WMPLAN_CACHE/dinov2`, else `~/.cache/wmplan/dinov2`."""
    root = os.environ.get("WMPLAN_CACHE") or Path.home() / ".cache" / "wmplan"
    return Path(root) / "dinov2"


def official_filename(name: str) -> tuple[str, str]:
    """The release's folder and file name for an encoder name, e.g. ("dinov2_vits14",
    "dinov2_vits14_reg4_pretrain.pth") for "dinov2_vits14_reg"."""
    if name not in ENCODER_CONFIGS:
        raise ValueError(f"unknown DINOv2 encoder {name!r}; known: {', '.join(ENCODER_CONFIGS)}")
    arch = name.removesuffix("_reg")
    suffix = "_reg4_pretrain.pth" if name.endswith("_reg") else "_pretrain.pth"
    return arch, arch + suffix


def fetch_official_weights(
    name: str,
    cache_dir: str | Path | None = None,
    base_url: str = OFFICIAL_BASE_URL,
    progress: bool = True,
) -> Path:
    """Downloads an official DINOv2 checkpoint once and returns its cached path.

    The download goes to a temporary file first (torch.hub's `download_url_to_file`), so an
    interrupted fetch never leaves a truncated checkpoint in the cache.

    Args:
        name: a key of `ENCODER_CONFIGS`, e.g. "dinov2_vits14" or "dinov2_vitb14_reg".
        cache_dir: where checkpoints are kept; defaults to `default_cache_dir()`.
        base_url: the release's base URL (a mirror, or a file:// URL).
        progress: show a progress bar.

    Returns:
        Path of the `.pth` file.

    Raises:
        ValueError: on an unknown name.
    """
    arch, filename = official_filename(name)
    path = Path(cache_dir or default_cache_dir()) / filename
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        download_url_to_file(f"{base_url}/{arch}/{filename}", str(path), progress=progress)
    return path
