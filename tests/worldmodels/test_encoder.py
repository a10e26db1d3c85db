"""DINOv2 encoder: official layout, strict weight loading in every format, interpolation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import safetensors.torch
import torch
from torch import Tensor

from worldmodels.encoder_loading import ENCODER_CONFIGS, load_encoder, save_encoder
from worldmodels.state_dict_formats import convert_hf_state_dict
from worldmodels.vit import DinoVisionTransformer, imagenet_normalize

TINY = {
    "img_size": 56,
    "patch_size": 14,
    "embed_dim": 32,
    "depth": 2,
    "num_heads": 2,
    "num_register_tokens": 2,
}
OFFICIAL_DIMS = {"s": (384, 12), "b": (768, 12), "l": (1024, 24)}


def _official_keys(depth: int, registers: bool) -> set[str]:
    """State-dict keys of the released checkpoints, spelled out independently."""
    keys = {"cls_token", "pos_embed", "mask_token", "patch_embed.proj.weight"}
    keys |= {"patch_embed.proj.bias", "norm.weight", "norm.bias"}
    if registers:
        keys.add("register_tokens")
    per_block = ["norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2"]
    for i in range(depth):
        keys |= {f"blocks.{i}.{m}.{p}" for m in per_block for p in ("weight", "bias")}
        keys |= {f"blocks.{i}.ls1.gamma", f"blocks.{i}.ls2.gamma"}
    return keys


def _random_model(seed: int, **kwargs: object) -> DinoVisionTransformer:
    """Encoder whose every parameter (LayerScale and tokens included) is random."""
    generator = torch.Generator().manual_seed(seed)
    model = DinoVisionTransformer(**kwargs).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(0.2 * torch.randn(param.shape, generator=generator))
    return model


def _images(height: int, width: int, batch: int = 2) -> Tensor:
    return torch.randn(batch, 3, height, width, generator=torch.Generator().manual_seed(7))


def _assert_same_outputs(a: DinoVisionTransformer, b: DinoVisionTransformer, x: Tensor) -> None:
    with torch.no_grad():
        fa, fb = a.forward_features(x), b.forward_features(x)
    for name in ("x_norm_clstoken", "x_norm_regtokens", "x_norm_patchtokens", "x_prenorm"):
        assert torch.equal(fa[name], fb[name]), name


def _to_hf(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Official -> Hugging Face ``Dinov2Model`` names (inverse of the library conversion)."""
    top = {
        "cls_token": "embeddings.cls_token",
        "mask_token": "embeddings.mask_token",
        "pos_embed": "embeddings.position_embeddings",
        "register_tokens": "embeddings.register_tokens",
        "patch_embed.proj.weight": "embeddings.patch_embeddings.projection.weight",
        "patch_embed.proj.bias": "embeddings.patch_embeddings.projection.bias",
        "norm.weight": "layernorm.weight",
        "norm.bias": "layernorm.bias",
    }
    block = {
        "attn.proj.": "attention.output.dense.",
        "ls1.gamma": "layer_scale1.lambda1",
        "ls2.gamma": "layer_scale2.lambda1",
    }
    hf = {}
    for key, value in state_dict.items():
        if key in top:
            hf[top[key]] = value.clone()
            continue
        _, index, rest = key.split(".", 2)
        prefix = f"encoder.layer.{index}."
        if rest.startswith("attn.qkv."):
            kind = rest.rsplit(".", 1)[1]
            for part, chunk in zip(("query", "key", "value"), value.chunk(3, dim=0), strict=True):
                hf[f"{prefix}attention.attention.{part}.{kind}"] = chunk.clone()
            continue
        for old, new in block.items():
            rest = rest.replace(old, new)
        hf[prefix + rest] = value.clone()
    return hf


def _reference_pos_encoding(
    pos_embed: Tensor, n_tokens: int, w: int, h: int, patch: int, offset: float, antialias: bool
) -> Tensor:
    """The official ``DinoVisionTransformer.interpolate_pos_encoding``, nearly verbatim."""
    npatch = n_tokens - 1
    N = pos_embed.shape[1] - 1
    if npatch == N and w == h:
        return pos_embed
    pos_embed = pos_embed.float()
    class_pos_embed = pos_embed[:, 0]
    patch_pos_embed = pos_embed[:, 1:]
    dim = pos_embed.shape[-1]
    w0 = w // patch
    h0 = h // patch
    M = int(math.sqrt(N))
    kwargs = {}
    if offset:
        kwargs["scale_factor"] = (float(w0 + offset) / M, float(h0 + offset) / M)
    else:
        kwargs["size"] = (w0, h0)
    patch_pos_embed = torch.nn.functional.interpolate(
        patch_pos_embed.reshape(1, M, M, dim).permute(0, 3, 1, 2),
        mode="bicubic",
        antialias=antialias,
        **kwargs,
    )
    assert (w0, h0) == patch_pos_embed.shape[-2:]
    patch_pos_embed = patch_pos_embed.permute(0, 2, 3, 1).view(1, -1, dim)
    return torch.cat((class_pos_embed.unsqueeze(0), patch_pos_embed), dim=1)


# ---------------------------------------------------------------- official layout


@pytest.mark.parametrize("name", sorted(ENCODER_CONFIGS))
def test_official_variants_have_official_state_dict(name: str) -> None:
    dim, depth = OFFICIAL_DIMS[name[len("dinov2_vit")]]
    registers = name.endswith("_reg")
    with torch.device("meta"):
        model = DinoVisionTransformer(**ENCODER_CONFIGS[name])
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}

    assert set(shapes) == _official_keys(depth, registers)
    assert shapes["pos_embed"] == (1, 1 + 37 * 37, dim)
    assert shapes["cls_token"] == (1, 1, dim)
    assert shapes["mask_token"] == (1, dim)
    assert shapes["patch_embed.proj.weight"] == (dim, 3, 14, 14)
    assert shapes[f"blocks.{depth - 1}.attn.qkv.weight"] == (3 * dim, dim)
    assert shapes[f"blocks.{depth - 1}.mlp.fc1.weight"] == (4 * dim, dim)
    assert shapes[f"blocks.{depth - 1}.ls2.gamma"] == (dim,)
    if registers:
        assert shapes["register_tokens"] == (1, 4, dim)
        assert model.interpolate_offset == 0.0 and model.interpolate_antialias
    else:
        assert model.interpolate_offset == 0.1 and not model.interpolate_antialias
    assert model.embed_dim == dim and model.patch_size == 14


def test_vits14_pth_loads_strictly_and_reproduces(tmp_path: Path) -> None:
    source = _random_model(1, **ENCODER_CONFIGS["dinov2_vits14"])
    path = tmp_path / "dinov2_vits14_pretrain.pth"
    torch.save(source.state_dict(), path)

    model = load_encoder("dinov2_vits14", weights=path)

    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    _assert_same_outputs(source, model, _images(28, 42, batch=1))


def test_forward_returns_cls_token_and_named_features() -> None:
    model = _random_model(0, **TINY)
    x = _images(42, 70)
    with torch.no_grad():
        features = model.forward_features(x)
        cls = model(x)
    assert features["x_norm_clstoken"].shape == (2, 32)
    assert features["x_norm_regtokens"].shape == (2, 2, 32)
    assert features["x_norm_patchtokens"].shape == (2, 3 * 5, 32)
    assert features["x_prenorm"].shape == (2, 1 + 2 + 15, 32)
    assert features["masks"] is None
    assert torch.equal(cls, features["x_norm_clstoken"])
    assert model.patch_grid(42, 70) == (3, 5)


def test_masked_patches_are_replaced_by_the_mask_token() -> None:
    model = _random_model(0, **{**TINY, "num_register_tokens": 0})
    x = _images(56, 56, batch=1)
    masks = torch.ones(1, 16, dtype=torch.bool)
    with torch.no_grad():
        tokens = model.prepare_tokens_with_masks(x, masks)
    assert torch.allclose(tokens[0, 1:], model.mask_token + model.pos_embed[0, 1:])


def test_image_size_not_multiple_of_patch_raises() -> None:
    model = DinoVisionTransformer(**TINY)
    with pytest.raises(ValueError, match="not a multiple of the patch size 14"):
        model.forward_features(_images(30, 56))


def test_imagenet_normalize() -> None:
    pixels = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1).expand(2, 3, 4, 5)
    assert torch.allclose(imagenet_normalize(pixels), torch.zeros(2, 3, 4, 5), atol=1e-7)
    ones = imagenet_normalize(torch.ones(3, 1, 1)).flatten()
    assert torch.allclose(ones, torch.tensor([0.515 / 0.229, 0.544 / 0.224, 0.594 / 0.225]))


# ---------------------------------------------------------------- weight formats


@pytest.mark.parametrize("wrapper", [None, "model", "teacher", "state_dict"])
def test_pth_round_trip(tmp_path: Path, wrapper: str | None) -> None:
    source = _random_model(1, **TINY)
    state = source.state_dict()
    path = tmp_path / "weights.pth"
    torch.save(state if wrapper is None else {wrapper: state, "iteration": 3}, path)

    model = load_encoder("custom", weights=path, **TINY)

    _assert_same_outputs(source, model, _images(42, 70))
    assert not torch.equal(model.pos_embed, DinoVisionTransformer(**TINY).pos_embed)


def test_safetensors_round_trip(tmp_path: Path) -> None:
    source = _random_model(2, **TINY)
    path = tmp_path / "weights.safetensors"
    safetensors.torch.save_file(source.state_dict(), path)

    model = load_encoder("custom", weights=path, **TINY)

    _assert_same_outputs(source, model, _images(56, 28))


def test_hugging_face_layout_round_trip(tmp_path: Path) -> None:
    source = _random_model(3, **TINY)
    hf = _to_hf(source.state_dict())
    assert "encoder.layer.1.attention.attention.value.bias" in hf
    assert hf["embeddings.mask_token"].shape == (1, 32)
    path = tmp_path / "model.safetensors"
    safetensors.torch.save_file(hf, path)

    model = load_encoder("custom", weights=path, **TINY)

    _assert_same_outputs(source, model, _images(42, 42))
    converted = convert_hf_state_dict(hf)
    assert converted.keys() == source.state_dict().keys()


def test_training_checkpoint_with_chunked_backbone(tmp_path: Path) -> None:
    source = _random_model(4, **TINY)
    chunk_size = 1  # official BlockChunk keeps global block indices: blocks.{chunk}.{i}
    teacher = {"dino_head.last_layer.weight": torch.zeros(3, 2)}
    for key, value in source.state_dict().items():
        if key.startswith("blocks."):
            index = int(key.split(".")[1])
            key = f"blocks.{index // chunk_size}.{key.removeprefix('blocks.')}"
        teacher[f"backbone.{key}"] = value
    path = tmp_path / "teacher_checkpoint.pth"
    torch.save({"teacher": teacher}, path)

    model = load_encoder("custom", weights=path, **TINY)

    _assert_same_outputs(source, model, _images(28, 28))


# ---------------------------------------------------------------- errors


def _corrupt(state: dict[str, Tensor], kind: str) -> dict[str, Tensor]:
    state = dict(state)
    if kind == "missing":
        del state["blocks.1.mlp.fc2.bias"]
    elif kind == "unexpected":
        state["blocks.2.norm1.weight"] = torch.ones(32)
    else:
        state["pos_embed"] = torch.zeros(1, 10, 32)
    return state


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", r"missing 1 keys: blocks\.1\.mlp\.fc2\.bias \(32,\)"),
        ("unexpected", r"unexpected 1 keys: blocks\.2\.norm1\.weight \(32,\)"),
        ("shape", r"pos_embed file \(1, 10, 32\) vs model \(1, 17, 32\)"),
    ],
)
def test_mismatching_checkpoint_names_the_keys(tmp_path: Path, kind: str, message: str) -> None:
    path = tmp_path / "bad.pth"
    torch.save(_corrupt(DinoVisionTransformer(**TINY).state_dict(), kind), path)
    with pytest.raises(ValueError, match=message) as info:
        load_encoder("custom", weights=path, **TINY)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupted_file_is_reported(tmp_path: Path, suffix: str, damage: str) -> None:
    path = tmp_path / f"weights{suffix}"
    state = DinoVisionTransformer(**TINY).state_dict()
    if suffix == ".pth":
        torch.save(state, path)
    else:
        safetensors.torch.save_file(state, path)
    content = path.read_bytes()
    damaged = {"garbage": b"not a checkpoint" * 7, "truncated": content[:-100], "empty": b""}
    path.write_bytes(damaged[damage])
    with pytest.raises(ValueError, match=f"{path}: file: could not read the checkpoint"):
        load_encoder("custom", weights=path, **TINY)


def test_missing_file_and_unknown_extension(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pth"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        load_encoder("custom", weights=missing, **TINY)
    odd = tmp_path / "weights.ckpt"
    odd.write_bytes(b"x")
    with pytest.raises(ValueError, match="unknown checkpoint extension '.ckpt'"):
        load_encoder("custom", weights=odd, **TINY)


def test_unknown_names_and_arguments() -> None:
    with pytest.raises(ValueError, match="dinov2_vitb14_reg"):
        load_encoder("dinov3_vits16")
    with pytest.raises(ValueError, match="needs the arguments"):
        load_encoder("custom", embed_dim=32)
    with pytest.raises(ValueError, match="unknown encoder arguments"):
        load_encoder("custom", **TINY, qkv_bias=False)


# ---------------------------------------------------------------- position embeddings


def test_native_grid_returns_pos_embed_unchanged() -> None:
    model = _random_model(5, **TINY)
    tokens = torch.zeros(1, 1 + 16, 32)
    assert model.interpolate_pos_encoding(tokens, 56, 56) is model.pos_embed


@pytest.mark.parametrize(("offset", "antialias"), [(0.1, False), (0.0, True)])
@pytest.mark.parametrize(("height", "width"), [(42, 84), (98, 28), (28, 28)])
def test_interpolation_matches_official_formula(
    offset: float, antialias: bool, height: int, width: int
) -> None:
    kwargs = {**TINY, "img_size": 70, "interpolate_offset": offset}
    model = _random_model(6, **kwargs, interpolate_antialias=antialias)
    n_patches = (height // 14) * (width // 14)
    tokens = torch.zeros(2, 1 + n_patches, 32)

    ours = model.interpolate_pos_encoding(tokens, height, width)
    expected = _reference_pos_encoding(
        model.pos_embed, 1 + n_patches, height, width, 14, offset, antialias
    )

    assert ours.shape == (1, 1 + n_patches, 32)
    assert torch.equal(ours, expected)
    with torch.no_grad():
        patches = model.forward_features(_images(height, width))["x_norm_patchtokens"]
    assert patches.shape == (2, n_patches, 32)


# ---------------------------------------------------------------- native checkpoints


def test_save_and_load_encoder_directory(tmp_path: Path) -> None:
    source = _random_model(8, **TINY, interpolate_offset=0.0, interpolate_antialias=True)
    directory = save_encoder(source, tmp_path / "enc", extra={"dataset": "pusht"})

    assert sorted(p.name for p in directory.iterdir()) == ["encoder.json", "encoder.safetensors"]
    meta = json.loads((directory / "encoder.json").read_text())
    assert meta["vit"] == source.config and meta["extra"] == {"dataset": "pusht"}
    for name in (directory, str(directory), directory / "encoder.json"):
        model = load_encoder(name)
        assert model.config == source.config
        assert not model.training and not any(p.requires_grad for p in model.parameters())
        _assert_same_outputs(source, model, _images(42, 70))
    with pytest.raises(ValueError, match="holds its own weights"):
        load_encoder(directory, weights=directory / "encoder.safetensors")
