"""A keypoint encoder: image coordinates of what moves in the scene, learned without labels.

A small convolutional network maps a frame to K feature maps at half its resolution, and a
spatial soft-argmax reduces each map to the expected image coordinates (x, y) in [-1, 1] of
its softmax (Finn, Tan, Duan, Darrell, Levine, Abbeel 2016, "Deep Spatial Autoencoders for
Visuomotor Learning"). Trained by reconstructing the frame from the keypoints alone
(`worldmodels.pretrain_keypoints`), the keypoints settle on the moving objects, so that the
goal distance of two frames' keypoints measures how far apart the objects' poses are; the
patch tokens of a ViT rank an object's poses far worse (docs/training.md, Push-T).

The encoder presents itself as the world model's encoders do (`forward_features` and
`patch_grid` of `worldmodels.vit.DinoVisionTransformer`): a frame is ONE token of 2K entries,
``coordinate_scale * (x_1, y_1, ..., x_K, y_K)``, x to the right and y down the image.
``keep`` leaves keypoints out of the token: those that follow the agent, whose state the
world model's proprio token already holds (`worldmodels.pretrain_keypoints.agent_r2`), so the
token and its goal distance are about the objects alone.

With ``proprio_dim`` and ``agent_points`` the encoder also holds an agent map: the image points
(x, y) where the agent is, from its proprioception (a linear map of the z-scored proprio or,
with ``agent_hidden``, a small MLP: an arm's links). Training draws the agent there, so the
keypoints are left to what the agent moves; planning reads it to score how far the agent is
from the objects (`planner.agent_reach.AgentReach`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


class KeypointEncoder(nn.Module):
    """Frames (B, 3, S, S) (ImageNet-normalised, as the ViT takes them) -> K keypoints.

    Args:
        n_keypoints: K.
        channels: width of the convolutional layers.
        logit_scale: factor on the feature maps before the spatial softmax (sharper maps
            from the start, so the keypoints move with what they see).
        coordinate_scale: factor on the coordinates in [-1, 1] in the token (about unit spread
            for the predictor).
        keep: indices of the keypoints in the token, in this order (None: all K).
        proprio_dim: p, the proprioception the agent map reads (0: no agent map).
        agent_points: A, the agent map's points (0: no agent map).
        agent_hidden: hidden units of the agent map (0: a linear map).
    """

    def __init__(
        self,
        n_keypoints: int = 8,
        channels: int = 32,
        logit_scale: float = 10.0,
        coordinate_scale: float = 4.0,
        keep: Sequence[int] | None = None,
        proprio_dim: int = 0,
        agent_points: int = 1,
        agent_hidden: int = 0,
    ) -> None:
        super().__init__()
        if n_keypoints < 1 or channels < 1:
            raise ValueError(
                f"n_keypoints and channels must be >= 1, got {n_keypoints} and {channels}"
            )
        if logit_scale <= 0 or coordinate_scale <= 0:
            raise ValueError(
                f"logit_scale and coordinate_scale must be > 0, got {logit_scale} and "
                f"{coordinate_scale}"
            )
        if keep is not None and (
            not keep or len(set(keep)) != len(keep) or not all(0 <= k < n_keypoints for k in keep)
        ):
            raise ValueError(
                f"keep must be distinct keypoint indices in [0, {n_keypoints}), got {keep!r}"
            )
        if min(proprio_dim, agent_points, agent_hidden) < 0:
            raise ValueError(
                "proprio_dim, agent_points and agent_hidden must be >= 0, got "
                f"{proprio_dim}, {agent_points} and {agent_hidden}"
            )
        self.keep = None if keep is None else [int(k) for k in keep]
        self.proprio_dim, self.agent_points, self.agent_hidden = (
            proprio_dim,
            agent_points,
            agent_hidden,
        )
        self.n_keypoints = n_keypoints
        self.channels = channels
        self.logit_scale = logit_scale
        self.coordinate_scale = coordinate_scale
        self.features = nn.Sequential(
            nn.Conv2d(3, channels, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, n_keypoints, 1),
        )
        self.agent: nn.Module | None = None
        if proprio_dim and agent_points:
            self.reset_agent_map(agent_points)

    def reset_agent_map(self, agent_points: int) -> None:
        """A new, untrained agent map of ``agent_points`` points (and its proprio statistics,
        zero mean and unit std until set)."""
        if not self.proprio_dim or agent_points < 1:
            raise ValueError(
                f"an agent map needs proprio_dim >= 1 and agent_points >= 1, got "
                f"{self.proprio_dim} and {agent_points}"
            )
        self.agent_points, out, hidden = agent_points, 2 * agent_points, self.agent_hidden
        self.agent = (
            nn.Sequential(nn.Linear(self.proprio_dim, hidden), nn.ReLU(), nn.Linear(hidden, out))
            if hidden
            else nn.Linear(self.proprio_dim, out)
        )
        device = self.features[0].weight.device
        self.agent.to(device)
        self.register_buffer("proprio_mean", torch.zeros(self.proprio_dim, device=device))
        self.register_buffer("proprio_std", torch.ones(self.proprio_dim, device=device))

    @property
    def config(self) -> dict[str, Any]:
        """The constructor's arguments (saved with the weights)."""
        return {
            "n_keypoints": self.n_keypoints,
            "channels": self.channels,
            "logit_scale": self.logit_scale,
            "coordinate_scale": self.coordinate_scale,
            "keep": self.keep,
            "proprio_dim": self.proprio_dim,
            "agent_points": self.agent_points,
            "agent_hidden": self.agent_hidden,
        }

    @property
    def embed_dim(self) -> int:
        """2K (2 len(keep)): the entries of a frame's token."""
        return 2 * (self.n_keypoints if self.keep is None else len(self.keep))

    def patch_grid(self, height: int, width: int) -> tuple[int, int]:
        """One token per frame, whatever its size (even sides only)."""
        if height % 2 or width % 2:
            raise ValueError(f"the keypoint encoder takes even image sides, got {height}x{width}")
        return (1, 1)

    def keypoints(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> (B, K, 2) coordinates (x, y) in [-1, 1] of each map's soft-argmax."""
        maps = self.features(images) * self.logit_scale  # (B, K, S/2, S/2)
        h, w = maps.shape[-2:]
        weights = maps.flatten(2).softmax(-1).unflatten(-1, (h, w))
        ys = torch.linspace(-1, 1, h, device=maps.device, dtype=weights.dtype)
        xs = torch.linspace(-1, 1, w, device=maps.device, dtype=weights.dtype)
        return torch.stack([(weights.sum(-2) * xs).sum(-1), (weights.sum(-1) * ys).sum(-1)], -1)

    def place_agent(self, proprio: torch.Tensor) -> torch.Tensor:
        """(..., p) raw proprioception -> (..., A, 2) the agent map's image points (x, y).

        Raises:
            ValueError: the encoder has no agent map, or ``proprio`` is not (..., p).
        """
        if self.agent is None:
            raise ValueError(
                "this keypoint encoder has no agent map (proprio_dim and agent_points were 0 "
                "when it was trained)"
            )
        if proprio.shape[-1] != self.proprio_dim:
            raise ValueError(
                f"the agent map reads {self.proprio_dim} proprio values, got {proprio.shape[-1]}"
            )
        z = (proprio - self.proprio_mean.to(proprio)) / self.proprio_std.to(proprio)
        return self.agent(z).unflatten(-1, (-1, 2))

    def token_points(self, token: torch.Tensor) -> torch.Tensor:
        """(..., D >= embed_dim) keypoint tokens, as `forward_features` writes them (and a
        predictor predicts them) -> (..., K', 2) the kept keypoints' image coordinates (x, y)."""
        return token[..., : self.embed_dim].unflatten(-1, (-1, 2)) / self.coordinate_scale

    def forward_features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"x_norm_patchtokens": (B, 1, embed_dim)}``: the kept keypoints, scaled, as one
        token."""
        points = self.keypoints(images)
        if self.keep is not None:
            points = points[:, self.keep]
        token = points.flatten(1) * self.coordinate_scale
        return {"x_norm_patchtokens": token[:, None]}
