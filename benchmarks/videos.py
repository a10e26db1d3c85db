"""Report videos: upscaled frames written as mp4, with an optional step index drawn on them."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np

# 3x5 bitmaps of the digits 0-9, row by row
DIGITS = (
    "111101101101111",
    "010110010010111",
    "111001111100111",
    "111001111001111",
    "101101111001001",
    "111100111001111",
    "111100111101111",
    "111001001001001",
    "111101111101111",
    "111101111001111",
)


def write_video(path: Path, frames: list[np.ndarray], scale: int = 4, fps: int = 4) -> None:
    """Write frames (H, W, 3) uint8, upscaled by ``scale`` (nearest), as an mp4."""
    big = [np.repeat(np.repeat(f, scale, axis=0), scale, axis=1) for f in frames]
    iio.imwrite(path, np.stack(big), fps=fps, codec="libx264", macro_block_size=1)


def draw_number(frame: np.ndarray, number: int, cell: int) -> None:
    """Write ``number`` in white on black into the top-left corner of frame (H, W, 3), in place."""
    text = str(number)
    height, width = 7 * cell, (4 * len(text) + 1) * cell
    frame[: min(height, frame.shape[0]), : min(width, frame.shape[1])] = 0
    for position, char in enumerate(text):
        glyph = np.array([int(b) for b in DIGITS[int(char)]], bool).reshape(5, 3)
        glyph = np.kron(glyph, np.ones((cell, cell), bool))  # (5*cell, 3*cell)
        top, left = cell, (1 + 4 * position) * cell
        region = frame[top : top + glyph.shape[0], left : left + glyph.shape[1]]
        region[glyph[: region.shape[0], : region.shape[1]]] = 255


def episode_video(pixels: np.ndarray, scale: int, step_index: bool = True) -> np.ndarray:
    """Frames (F, H, W, 3) uint8 -> (F, H', W', 3): upscaled by ``scale`` (nearest), padded to
    even sides for yuv420p, with the step index drawn on each frame."""
    frames = pixels.repeat(scale, axis=1).repeat(scale, axis=2)  # (F, H*s, W*s, 3)
    _, height, width, _ = frames.shape
    frames = np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)))
    if step_index:
        for step, frame in enumerate(frames):
            draw_number(frame, step, cell=max(1, height // 64))
    return frames
