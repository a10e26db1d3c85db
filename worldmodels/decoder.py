"""A small image decoder that renders latent patch tokens back to pixels.

It is a visualisation aid, as the decoder of DINO-WM (Zhou et al. 2024): trained
afterwards on the frozen encoder's tokens (detached), it never changes the encoder
or the predictor, and planning never uses it. Decoding the predictor's rollouts
shows what the world model imagines.

Architecture: a 1x1 convolution lifts the (h, w) token grid to ``channels``
feature maps, then ``log2(image_size / h)`` stages of transposed convolution
(x2 each, GroupNorm, GELU) upsample to the image, and a 3x3 convolution with a
sigmoid gives RGB in [0, 1].

A decoder directory holds ``decoder.json`` (architecture) and
``decoder.safetensors`` (weights); nothing is unpickled when loading.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import safetensors
import safetensors.torch
import torch
from torch import nn

from worldmodels.atomic import atomic_write

DECODER_FORMAT = "wmplan-decoder"
DECODER_CONFIG_FILE = "decoder.json"
DECODER_WEIGHTS_FILE = "decoder.safetensors"


@dataclass(frozen=True)
class DecoderConfig:
    """Architecture of :class:`LatentDecoder`; checks itself on construction."""

    token_dim: int  # D
    grid: tuple[int, int]  # (h, w) token grid, h * w = P
    image_size: int  # side of the square output image
    channels: int = 128  # feature maps after the first stage; halved per stage, >= 32

    def __post_init__(self) -> None:
        object.__setattr__(self, "grid", tuple(self.grid))
        h, w = self.grid
        if min(self.token_dim, h, w, self.image_size, self.channels) < 1:
            raise ValueError(f"DecoderConfig sizes must be >= 1, got {self}")
        if h != w:
            raise ValueError(f"DecoderConfig.grid must be square, got {self.grid}")
        ratio = self.image_size / h
        if ratio < 1 or ratio != 2 ** round(math.log2(ratio)):
            raise ValueError(
                f"image_size / grid side must be a power of two, got {self.image_size} / {h}"
            )

    @property
    def n_stages(self) -> int:
        return round(math.log2(self.image_size / self.grid[0]))


def _stage(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1),
        nn.GroupNorm(min(8, c_out), c_out),
        nn.GELU(),
    )


class LatentDecoder(nn.Module):
    """Decodes patch tokens (B, P, D) to images (B, 3, S, S) in [0, 1].

    Args:
        config: architecture.
    """

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        self.config = config
        widths = [max(32, config.channels >> i) for i in range(config.n_stages + 1)]
        self.lift = nn.Conv2d(config.token_dim, widths[0], kernel_size=1)
        self.stages = nn.Sequential(
            *(_stage(a, b) for a, b in zip(widths, widths[1:], strict=False))
        )
        self.to_rgb = nn.Conv2d(widths[-1], 3, kernel_size=3, padding=1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Renders tokens to images.

        Args:
            tokens: (..., P, D) patch tokens in row-major grid order.

        Returns:
            (..., 3, S, S) images in [0, 1].
        """
        h, w = self.config.grid
        lead, (P, D) = tokens.shape[:-2], tokens.shape[-2:]
        if (h * w, self.config.token_dim) != (P, D):
            raise ValueError(
                f"decoder expects tokens (..., {h * w}, {self.config.token_dim}), "
                f"got {tuple(tokens.shape)}"
            )
        x = tokens.reshape(-1, h, w, D).permute(0, 3, 1, 2)  # (B', D, h, w)
        images = torch.sigmoid(self.to_rgb(self.stages(self.lift(x))))
        return images.view(*lead, *images.shape[1:])


def save_decoder(decoder: LatentDecoder, directory: str | Path, extra: dict | None = None) -> Path:
    """Writes ``decoder.safetensors`` and then ``decoder.json`` into ``directory``, atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in decoder.state_dict().items()}
    meta = {"format": DECODER_FORMAT, "config": asdict(decoder.config), "extra": extra or {}}
    atomic_write(
        directory / DECODER_WEIGHTS_FILE, lambda p: safetensors.torch.save_file(tensors, p)
    )
    atomic_write(directory / DECODER_CONFIG_FILE, lambda p: p.write_text(json.dumps(meta)))
    return directory


def load_decoder(directory: str | Path, device: str | torch.device = "cpu") -> LatentDecoder:
    """Loads a decoder written by :func:`save_decoder`, strictly.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: a file is corrupted or does not match its configuration.
    """
    directory = Path(directory)
    config_path, weights_path = directory / DECODER_CONFIG_FILE, directory / DECODER_WEIGHTS_FILE
    for path in (config_path, weights_path):
        if not path.is_file():
            raise FileNotFoundError(f"decoder file not found: {path}")
    try:
        meta = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"could not read decoder config {config_path}: {err}") from err
    if not isinstance(meta, dict) or meta.get("format") != DECODER_FORMAT:
        raise ValueError(f"{config_path} is not a {DECODER_FORMAT!r} config")
    decoder = LatentDecoder(DecoderConfig(**meta["config"]))
    try:
        decoder.load_state_dict(safetensors.torch.load_file(weights_path), strict=True)
    except (safetensors.SafetensorError, OSError, RuntimeError) as err:
        raise ValueError(f"decoder weights {weights_path} do not load: {err}") from err
    return decoder.eval().requires_grad_(False).to(device)
