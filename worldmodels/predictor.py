"""Latent dynamics predictor: a transformer over frames of patch tokens.

Follows DINO-WM (Zhou et al. 2024): each frame's patch tokens carry the action
taken from that frame, attention is frame-causal (a token of frame t sees every
token of frames <= t and nothing later), and the output at frame t is the
prediction of frame t+1. Teacher forcing trains all positions at once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class PredictorConfig:
    """Architecture of :class:`LatentPredictor`; checks itself on construction."""

    token_dim: int  # D, encoder embedding size
    n_tokens: int  # P, tokens per frame
    action_dim: int  # A
    dim: int = 64
    depth: int = 3
    num_heads: int = 4
    mlp_ratio: float = 4.0
    max_frames: int = 8  # longest context (frames) the positional table covers

    def __post_init__(self) -> None:
        for name in (
            "token_dim",
            "n_tokens",
            "action_dim",
            "dim",
            "depth",
            "num_heads",
            "max_frames",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"PredictorConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.dim % self.num_heads:
            raise ValueError(
                f"PredictorConfig.dim ({self.dim}) must be divisible by "
                f"num_heads ({self.num_heads})"
            )

    def to_dict(self) -> dict:
        return asdict(self)


def frame_causal_mask(n_frames: int, n_tokens: int, device: torch.device) -> torch.Tensor:
    """Boolean attention mask (T*P, T*P): True where a query may attend to a key."""
    frame = torch.arange(n_frames, device=device).repeat_interleave(n_tokens)
    return frame[:, None] >= frame[None, :]


class _Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, L, C), mask (L, L) bool -> (B, L, C)."""
        B, L, C = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(B, L, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, heads, L, C/heads)
        x = x + self.proj(attn.transpose(1, 2).reshape(B, L, C))
        return x + self.mlp(self.norm2(x))


class LatentPredictor(nn.Module):
    """Predicts next-frame tokens from a window of frames and their actions.

    Args:
        config: architecture.
    """

    def __init__(self, config: PredictorConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.token_in = nn.Linear(c.token_dim, c.dim)
        self.action_in = nn.Linear(c.action_dim, c.dim)
        self.space_pos = nn.Parameter(torch.randn(1, 1, c.n_tokens, c.dim) * 0.02)
        self.time_pos = nn.Parameter(torch.randn(1, c.max_frames, 1, c.dim) * 0.02)
        self.blocks = nn.ModuleList(_Block(c.dim, c.num_heads, c.mlp_ratio) for _ in range(c.depth))
        self.norm = nn.LayerNorm(c.dim)
        self.token_out = nn.Linear(c.dim, c.token_dim)
        nn.init.zeros_(self.token_out.weight)  # start as the identity map z_{t+1} = z_t
        nn.init.zeros_(self.token_out.bias)

    def forward(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Predict frame t+1 from frames <= t, for every t.

        Args:
            z: (B, T, P, D) tokens of T consecutive frames.
            actions: (B, T, A) (normalised) action taken from each frame.

        Returns:
            (B, T, P, D): entry t is the prediction of frame t+1.
        """
        B, T, P, D = z.shape
        if self.config.max_frames < T:
            raise ValueError(
                f"{T} frames exceed the predictor's max_frames={self.config.max_frames}"
            )
        if (self.config.n_tokens, self.config.token_dim) != (P, D):
            raise ValueError(
                f"expected tokens of shape (P, D) = ({self.config.n_tokens}, "
                f"{self.config.token_dim}), got ({P}, {D})"
            )
        x = self.token_in(z) + self.action_in(actions)[:, :, None] + self.space_pos
        x = x + self.time_pos[:, :T]
        x = x.reshape(B, T * P, -1)  # (B, T*P, C)
        mask = frame_causal_mask(T, P, z.device)
        for block in self.blocks:
            x = block(x, mask)
        delta = self.token_out(self.norm(x)).view(B, T, P, D)
        return z + delta
