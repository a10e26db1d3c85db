"""Fetching official DINOv2 checkpoints, from a file:// mirror the test writes itself."""

import pytest
import torch

from worldmodels.encoder_loading import load_encoder
from worldmodels.official_weights import fetch_official_weights, official_filename


def test_release_file_names():
    assert official_filename("dinov2_vitb14") == ("dinov2_vitb14", "dinov2_vitb14_pretrain.pth")
    assert official_filename("dinov2_vits14_reg") == (
        "dinov2_vits14",
        "dinov2_vits14_reg4_pretrain.pth",
    )
    with pytest.raises(ValueError, match="unknown DINOv2 encoder 'dinov2_vitx14'"):
        official_filename("dinov2_vitx14")


def test_fetch_downloads_once_and_the_file_loads_strictly(tmp_path):
    # A mirror laid out like the release, holding a (small-image, random) ViT-S/14 state dict.
    mirror = tmp_path / "mirror" / "dinov2_vits14"
    mirror.mkdir(parents=True)
    source = load_encoder("dinov2_vits14", img_size=56)
    torch.save(source.state_dict(), mirror / "dinov2_vits14_pretrain.pth")
    base_url = (tmp_path / "mirror").as_uri()
    cache = tmp_path / "cache"
    path = fetch_official_weights("dinov2_vits14", cache, base_url, progress=False)
    assert path == cache / "dinov2_vits14_pretrain.pth"
    loaded = load_encoder("dinov2_vits14", weights=path, img_size=56)
    for key, value in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    # Cached: a second fetch does not touch the mirror.
    (mirror / "dinov2_vits14_pretrain.pth").unlink()
    assert fetch_official_weights("dinov2_vits14", cache, base_url, progress=False) == path
