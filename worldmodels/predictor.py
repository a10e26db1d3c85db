"""Latent dynamics predictor: a transformer over frames of patch tokens.

Follows DINO-WM (Zhou et al. 2024): each frame's patch tokens carry the action
taken from that frame, attention is frame-causal (a token of frame t sees every
token of frames <= t and nothing later), and the output at frame t is the
prediction of frame t+1. Teacher forcing trains all positions at once.

Proprioception (``proprio_dim > 0``) joins the latent state as one more token per
frame, after the visual ones: its first ``proprio_dim`` entries hold the
(normalised) proprioceptive vector and the rest are zero. It has its own input
and output layers (``proprio_in``, ``proprio_out``), and the predictor writes only
those entries, so predicted proprio tokens keep the zero padding. This is
DINO-WM's proprio embedding, kept as a token so that a latent state stays one
(P, D) tensor and the goal distance covers it.

Latent actions (``latent_action_dim = d > 0``) make it a high-level model over macro-actions,
as in HWM (Hierarchical World Models, arXiv 2604.03208): the action of a frame is a block of
many raw actions, and a small MLP (the macro-action encoder) maps it to a latent action in
``[-1, 1]^d`` (tanh) before the action embedding. It is trained end to end with the
predictor; a planner then searches the d-dim box directly (``latent_actions=True``).
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
    n_tokens: int  # visual tokens per frame
    action_dim: int  # A
    dim: int = 64
    depth: int = 3
    num_heads: int = 4
    mlp_ratio: float = 4.0
    max_frames: int = 8  # longest context (frames) the positional table covers
    proprio_dim: int = 0  # p; > 0 adds the proprio token to each frame
    latent_action_dim: int = 0  # d; > 0 encodes each action into a latent macro-action first

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
        if not 0 < self.mlp_ratio <= 64:
            raise ValueError(f"PredictorConfig.mlp_ratio must be in (0, 64], got {self.mlp_ratio}")
        if self.dim % self.num_heads:
            raise ValueError(
                f"PredictorConfig.dim ({self.dim}) must be divisible by "
                f"num_heads ({self.num_heads})"
            )
        if self.latent_action_dim < 0:
            raise ValueError(
                f"PredictorConfig.latent_action_dim must be >= 0, got {self.latent_action_dim}"
            )
        if not 0 <= self.proprio_dim <= self.token_dim:
            raise ValueError(
                f"PredictorConfig.proprio_dim must be in [0, token_dim={self.token_dim}], "
                f"got {self.proprio_dim}"
            )

    @property
    def tokens_per_frame(self) -> int:
        """P: the visual tokens, plus the proprio token when there is one."""
        return self.n_tokens + (self.proprio_dim > 0)

    def to_dict(self) -> dict:
        return asdict(self)


KeyValue = tuple[torch.Tensor, torch.Tensor]
"""Keys and values of one attention layer, each (B, heads, L, C/heads)."""


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

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None, past: KeyValue | None = None
    ) -> tuple[torch.Tensor, KeyValue]:
        """Attends from new tokens to earlier (cached) and new tokens, then the MLP.

        Args:
            x: (B, L, C) new tokens.
            mask: (L, L0 + L) bool, True where a new token may attend to a key; None: all.
            past: keys and values (B, heads, L0, C/heads) of L0 earlier tokens, or None.

        Returns:
            (B, L, C) outputs, and the keys and values of the L0 + L tokens.
        """
        B, L, C = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(B, L, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        attn = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, heads, L, C/heads)
        x = x + self.proj(attn.transpose(1, 2).reshape(B, L, C))
        return x + self.mlp(self.norm2(x)), (k, v)


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
        self.action_encoder: nn.Module | None = None
        if c.latent_action_dim:  # HWM's macro-action encoder: block -> [-1, 1]^d
            self.action_encoder = nn.Sequential(
                nn.Linear(c.action_dim, c.dim), nn.GELU(), nn.Linear(c.dim, c.latent_action_dim),
                nn.Tanh(),
            )  # fmt: skip
        self.action_in = nn.Linear(c.latent_action_dim or c.action_dim, c.dim)
        self.space_pos = nn.Parameter(torch.randn(1, 1, c.tokens_per_frame, c.dim) * 0.02)
        self.time_pos = nn.Parameter(torch.randn(1, c.max_frames, 1, c.dim) * 0.02)
        self.blocks = nn.ModuleList(_Block(c.dim, c.num_heads, c.mlp_ratio) for _ in range(c.depth))
        self.norm = nn.LayerNorm(c.dim)
        self.token_out = nn.Linear(c.dim, c.token_dim)
        nn.init.zeros_(self.token_out.weight)  # start as the identity map z_{t+1} = z_t
        nn.init.zeros_(self.token_out.bias)
        if c.proprio_dim:
            self.proprio_in = nn.Linear(c.proprio_dim, c.dim)
            self.proprio_out = nn.Linear(c.dim, c.proprio_dim)
            nn.init.zeros_(self.proprio_out.weight)
            nn.init.zeros_(self.proprio_out.bias)

    def forward(
        self, z: torch.Tensor, actions: torch.Tensor, latent_actions: bool = False
    ) -> torch.Tensor:
        """Predict frame t+1 from frames <= t, for every t.

        Args:
            z: (B, T, P, D) tokens of T consecutive frames.
            actions: (B, T, A) (normalised) action taken from each frame, or with
                ``latent_actions`` (B, T, d) latent actions.
            latent_actions: the actions are latent (a model with ``latent_action_dim``).

        Returns:
            (B, T, P, D): entry t is the prediction of frame t+1.
        """
        return self.extend(z, actions, latent_actions=latent_actions)[0]

    def encode_actions(self, actions: torch.Tensor) -> torch.Tensor:
        """(..., A) normalised actions -> (..., d) latent actions in [-1, 1]^d.

        Raises:
            ValueError: for a predictor without latent actions.
        """
        if self.action_encoder is None:
            raise ValueError("this predictor has no latent actions (latent_action_dim = 0)")
        return self.action_encoder(actions)

    def extend(
        self,
        z: torch.Tensor,
        actions: torch.Tensor,
        cache: list[KeyValue] | None = None,
        latent_actions: bool = False,
    ) -> tuple[torch.Tensor, list[KeyValue]]:
        """Predicts for T new frames that follow the frames held in a key-value cache.

        With the frame-causal mask a frame's keys and values never depend on later frames,
        so feeding a context frame by frame through the cache gives exactly the predictions
        of one `forward` over the whole context, at the cost of the new frames only.

        Args:
            z: (B, T, P, D) tokens of the new frames.
            actions: (B, T, A) (normalised) action taken from each, or with
                ``latent_actions`` (B, T, d) latent actions.
            cache: per block, keys and values (B, heads, T0 * P, C/heads) of the T0 frames
                before them; None when they start the context.
            latent_actions: the actions are latent (a model with ``latent_action_dim``).

        Returns:
            (B, T, P, D) predictions of each new frame's successor, and the cache extended
            by the new frames.
        """
        B, T, P, D = z.shape
        start = 0 if cache is None else cache[0][0].shape[2] // P  # T0
        if self.config.max_frames < start + T:
            raise ValueError(
                f"{start + T} frames exceed the predictor's max_frames={self.config.max_frames}"
            )
        if (self.config.tokens_per_frame, self.config.token_dim) != (P, D):
            raise ValueError(
                f"expected tokens of shape (P, D) = ({self.config.tokens_per_frame}, "
                f"{self.config.token_dim}), got ({P}, {D})"
            )
        c = self.config
        if latent_actions and not c.latent_action_dim:
            raise ValueError("latent actions given to a predictor without latent_action_dim")
        if actions.shape[-1] != (c.latent_action_dim if latent_actions else c.action_dim):
            kind = "latent actions of dim d" if latent_actions else "actions of dim A"
            expected = c.latent_action_dim if latent_actions else c.action_dim
            raise ValueError(f"expected {kind} = {expected}, got {tuple(actions.shape)}")
        if self.action_encoder is not None and not latent_actions:
            actions = self.action_encoder(actions)
        x = self._embed(z) + self.action_in(actions)[:, :, None] + self.space_pos
        x = x + self.time_pos[:, start : start + T]
        x = x.reshape(B, T * P, -1)  # (B, T*P, C)
        mask = None if T == 1 else frame_causal_mask(start + T, P, z.device)[start * P :]
        new_cache = []
        for i, block in enumerate(self.blocks):
            x, key_value = block(x, mask, None if cache is None else cache[i])
            new_cache.append(key_value)
        return z + self._delta(self.norm(x).view(B, T, P, -1)), new_cache

    def _embed(self, z: torch.Tensor) -> torch.Tensor:
        """(B, T, P, D) tokens -> (B, T, P, C), the proprio token by its own layer."""
        p = self.config.proprio_dim
        if not p:
            return self.token_in(z)
        visual = self.token_in(z[:, :, :-1])
        return torch.cat([visual, self.proprio_in(z[:, :, -1:, :p])], dim=2)

    def _delta(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, P, C) outputs -> (B, T, P, D) changes; the proprio token's padding stays 0."""
        p = self.config.proprio_dim
        if not p:
            return self.token_out(x)
        proprio = self.proprio_out(x[:, :, -1:])  # (B, T, 1, p)
        padding = proprio.new_zeros(*proprio.shape[:-1], self.config.token_dim - p)
        proprio_token = torch.cat([proprio, padding], dim=-1)  # (B, T, 1, D)
        return torch.cat([self.token_out(x[:, :, :-1]), proprio_token], dim=2)
