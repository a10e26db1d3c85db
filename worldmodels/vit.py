"""Vision Transformer with the exact DINOv2 architecture and state-dict names.

Mirrors ``DinoVisionTransformer`` of facebookresearch/dinov2
(``dinov2/models/vision_transformer.py`` and ``dinov2/layers``; Oquab et al. 2023,
"DINOv2: Learning Robust Visual Features without Supervision"; registers from
Darcet et al. 2024, "Vision Transformers Need Registers") with ``block_chunks=0``,
so the released checkpoints (``dinov2_vits14_pretrain.pth``, ...) load with
``strict=True``. Attention uses ``torch.nn.functional.scaled_dot_product_attention``.
"""

from __future__ import annotations

import math
from typing import Any, TypedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_normalize(pixels: Tensor) -> Tensor:
    """Normalise RGB images with the ImageNet mean and std used to train DINOv2.

    Args:
        pixels: (..., 3, H, W) float images with values in [0, 1].

    Returns:
        (..., 3, H, W) normalised images, same dtype and device.
    """
    if pixels.ndim < 3 or pixels.shape[-3] != 3:
        raise ValueError(f"expected pixels of shape (..., 3, H, W), got {tuple(pixels.shape)}")
    mean = torch.tensor(IMAGENET_MEAN, dtype=pixels.dtype, device=pixels.device)
    std = torch.tensor(IMAGENET_STD, dtype=pixels.dtype, device=pixels.device)
    return (pixels - mean[:, None, None]) / std[:, None, None]


class ViTFeatures(TypedDict):
    """Named outputs of ``DinoVisionTransformer.forward_features`` (official names).

    With ``B`` images, ``R`` register tokens and ``Np`` patch tokens per image.
    """

    x_norm_clstoken: Tensor  # (B, D)
    x_norm_regtokens: Tensor  # (B, R, D)
    x_norm_patchtokens: Tensor  # (B, Np, D)
    x_prenorm: Tensor  # (B, 1 + R + Np, D)
    masks: Tensor | None  # (B, Np) bool, as passed in


class PatchEmbed(nn.Module):
    """Non-overlapping patches to tokens with a strided convolution (``patch_embed.proj``)."""

    def __init__(self, *, patch_size: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, H/p * W/p, D), patches in row-major order."""
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention with a fused ``qkv`` projection."""

    def __init__(self, *, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"embed_dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        """(B, N, D) -> (B, N, D)."""
        B, N, D = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, D // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, N, D / heads)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(B, N, D))


class Mlp(nn.Module):
    """Two-layer GELU feed-forward network (``fc1``, ``fc2``)."""

    def __init__(self, *, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        """(..., D) -> (..., D)."""
        return self.fc2(self.act(self.fc1(x)))


class LayerScale(nn.Module):
    """Per-channel residual scaling ``x * gamma`` (Touvron et al. 2021, CaiT)."""

    def __init__(self, *, dim: int, init_values: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), init_values))

    def forward(self, x: Tensor) -> Tensor:
        """(..., D) -> (..., D)."""
        return x * self.gamma


class Block(nn.Module):
    """Pre-norm transformer block with LayerScale on both residual branches."""

    def __init__(self, *, dim: int, num_heads: int, mlp_ratio: float, init_values: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim=dim, num_heads=num_heads)
        self.ls1 = LayerScale(dim=dim, init_values=init_values)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim=dim, hidden_dim=int(dim * mlp_ratio))
        self.ls2 = LayerScale(dim=dim, init_values=init_values)

    def forward(self, x: Tensor) -> Tensor:
        """(B, N, D) -> (B, N, D)."""
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class DinoVisionTransformer(nn.Module):
    """DINOv2 Vision Transformer (official architecture and parameter names).

    The released models use ``img_size=518, patch_size=14`` and
    ViT-S ``(384, 12, 6)``, ViT-B ``(768, 12, 12)``, ViT-L ``(1024, 24, 16)`` for
    ``(embed_dim, depth, num_heads)``; the ``_reg`` releases add 4 register tokens and
    interpolate position embeddings with ``interpolate_offset=0.0,
    interpolate_antialias=True``. Images of any size that is a multiple of
    ``patch_size`` are accepted; position embeddings are interpolated from the
    ``img_size // patch_size`` square grid. Built on the meta device, the model skips
    its random initialisation and expects ``load_state_dict(..., assign=True)``.

    Args:
        img_size: side of the square training image; fixes the position-embedding grid.
        patch_size: side of a square patch in pixels.
        embed_dim: token width ``D``.
        depth: number of transformer blocks.
        num_heads: attention heads per block.
        mlp_ratio: hidden width of the MLP relative to ``D``.
        num_register_tokens: extra learned tokens inserted after the cls token.
        init_values: initial LayerScale value.
        interpolate_offset: offset added to the target grid before computing the
            bicubic scale factor (official backward-compatibility kludge); 0 uses
            the target size directly.
        interpolate_antialias: antialias flag of the bicubic interpolation.
        in_chans: image channels.
    """

    def __init__(
        self,
        *,
        img_size: int,
        patch_size: int,
        embed_dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        num_register_tokens: int = 0,
        init_values: float = 1e-5,
        interpolate_offset: float = 0.1,
        interpolate_antialias: bool = False,
        in_chans: int = 3,
    ) -> None:
        super().__init__()
        if img_size % patch_size != 0:
            raise ValueError(f"img_size {img_size} is not a multiple of patch_size {patch_size}")
        if num_register_tokens < 0:
            raise ValueError(f"num_register_tokens must be >= 0, got {num_register_tokens}")
        self.img_size = img_size
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.depth = depth
        self.num_heads = num_heads
        self.mlp_ratio = mlp_ratio
        self.num_register_tokens = num_register_tokens
        self.init_values = init_values
        self.interpolate_offset = interpolate_offset
        self.interpolate_antialias = interpolate_antialias
        self.in_chans = in_chans

        grid = img_size // patch_size
        self.patch_embed = PatchEmbed(patch_size=patch_size, in_chans=in_chans, embed_dim=embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid * grid, embed_dim))
        self.register_tokens = (
            nn.Parameter(torch.zeros(1, num_register_tokens, embed_dim))
            if num_register_tokens
            else None
        )
        self.blocks = nn.ModuleList(
            Block(dim=embed_dim, num_heads=num_heads, mlp_ratio=mlp_ratio, init_values=init_values)
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head = nn.Identity()
        self.mask_token = nn.Parameter(torch.zeros(1, embed_dim))
        if not self.pos_embed.is_meta:  # a meta-device model only awaits loaded weights
            self._init_weights()

    @property
    def config(self) -> dict[str, Any]:
        """Constructor keyword arguments that rebuild this architecture."""
        return {
            "img_size": self.img_size,
            "patch_size": self.patch_size,
            "embed_dim": self.embed_dim,
            "depth": self.depth,
            "num_heads": self.num_heads,
            "mlp_ratio": self.mlp_ratio,
            "num_register_tokens": self.num_register_tokens,
            "init_values": self.init_values,
            "interpolate_offset": self.interpolate_offset,
            "interpolate_antialias": self.interpolate_antialias,
            "in_chans": self.in_chans,
        }

    def _init_weights(self) -> None:
        """Official initialisation: truncated-normal position embeddings and linears."""
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        if self.register_tokens is not None:
            nn.init.normal_(self.register_tokens, std=1e-6)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def patch_grid(self, img_h: int, img_w: int) -> tuple[int, int]:
        """Patch grid of an image size.

        Args:
            img_h: image height in pixels, a multiple of ``patch_size``.
            img_w: image width in pixels, a multiple of ``patch_size``.

        Returns:
            ``(img_h // patch_size, img_w // patch_size)``: rows and columns of patches.
        """
        if img_h % self.patch_size or img_w % self.patch_size:
            raise ValueError(
                f"image size {img_h}x{img_w} (HxW) is not a multiple of the patch size "
                f"{self.patch_size}; resize or crop to e.g. "
                f"{img_h // self.patch_size * self.patch_size}x"
                f"{img_w // self.patch_size * self.patch_size}"
            )
        return img_h // self.patch_size, img_w // self.patch_size

    def interpolate_pos_encoding(self, x: Tensor, height: int, width: int) -> Tensor:
        """Position embeddings for an image of ``height x width`` pixels.

        Same computation as the official ``interpolate_pos_encoding(x, w, h)`` (whose
        ``w`` is the height axis): the stored embedding is returned as is when the
        image is square with the native number of patches; otherwise the patch
        embeddings are resized bicubically, with scale factor
        ``(grid + interpolate_offset) / M`` when ``interpolate_offset`` is nonzero.

        Args:
            x: (B, 1 + Np, D) cls and patch tokens, used for ``Np`` and the dtype.
            height: image height in pixels.
            width: image width in pixels.

        Returns:
            (1, 1 + Np, D) position embeddings in the dtype of ``x``.
        """
        n_patches = x.shape[1] - 1
        n_native = self.pos_embed.shape[1] - 1
        if n_patches == n_native and height == width:
            return self.pos_embed
        pos_embed = self.pos_embed.float()
        class_pos_embed = pos_embed[:, 0]  # (1, D)
        patch_pos_embed = pos_embed[:, 1:]  # (1, M * M, D)
        dim = x.shape[-1]
        rows, cols = height // self.patch_size, width // self.patch_size
        side = int(math.sqrt(n_native))
        if self.interpolate_offset:
            size = None
            scale = (
                (rows + self.interpolate_offset) / side,
                (cols + self.interpolate_offset) / side,
            )
        else:
            size, scale = (rows, cols), None
        patch_pos_embed = F.interpolate(
            patch_pos_embed.reshape(1, side, side, dim).permute(0, 3, 1, 2),  # (1, D, M, M)
            size=size,
            scale_factor=scale,
            mode="bicubic",
            antialias=self.interpolate_antialias,
        )
        patch_pos_embed = patch_pos_embed.permute(0, 2, 3, 1).reshape(1, rows * cols, dim)
        return torch.cat((class_pos_embed[:, None], patch_pos_embed), dim=1).to(x.dtype)

    def prepare_tokens_with_masks(self, x: Tensor, masks: Tensor | None = None) -> Tensor:
        """Patchify, optionally mask, prepend cls, add position embeddings, insert registers.

        Args:
            x: (B, C, H, W) normalised images, H and W multiples of ``patch_size``.
            masks: optional (B, Np) bool; True replaces that patch by ``mask_token``.

        Returns:
            (B, 1 + R + Np, D) tokens ordered [cls, registers, patches].
        """
        B, _, height, width = x.shape
        self.patch_grid(height, width)
        x = self.patch_embed(x)  # (B, Np, D)
        if masks is not None:
            x = torch.where(masks.unsqueeze(-1), self.mask_token.to(x.dtype).unsqueeze(0), x)
        x = torch.cat((self.cls_token.expand(B, -1, -1), x), dim=1)
        x = x + self.interpolate_pos_encoding(x, height, width)
        if self.register_tokens is not None:
            x = torch.cat((x[:, :1], self.register_tokens.expand(B, -1, -1), x[:, 1:]), dim=1)
        return x

    def forward_features(self, x: Tensor, masks: Tensor | None = None) -> ViTFeatures:
        """Encode images into normalised cls, register and patch tokens.

        Args:
            x: (B, C, H, W) normalised images (see ``imagenet_normalize``), H and W
                multiples of ``patch_size``.
            masks: optional (B, Np) bool patch mask (masked image modelling).

        Returns:
            ``ViTFeatures`` with ``Np = (H / p) * (W / p)`` patch tokens in row-major order.
        """
        x = self.prepare_tokens_with_masks(x, masks)
        for block in self.blocks:
            x = block(x)
        x_norm = self.norm(x)
        n_reg = self.num_register_tokens
        return {
            "x_norm_clstoken": x_norm[:, 0],
            "x_norm_regtokens": x_norm[:, 1 : n_reg + 1],
            "x_norm_patchtokens": x_norm[:, n_reg + 1 :],
            "x_prenorm": x,
            "masks": masks,
        }

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) normalised images -> (B, D) normalised cls token."""
        return self.head(self.forward_features(x)["x_norm_clstoken"])
