"""The T block of Push-T and the walled table it lies on, in table units.

The T has a bar of 0.48 x 0.12 on top of a stem of 0.12 x 0.36 (Push-T's 120 x
30 and 30 x 90 px at 1 px = 1/256 unit). The block frame has its origin at the
T's centre of mass (uniform density), on the stem's axis 0.043 below the bar,
with the bar towards +y. A block pose is ``(x, y, theta)`` of that frame in the
world, ``theta`` counter-clockwise. The table is [-1, 1]^2, enclosed by walls.
"""

from __future__ import annotations

import numpy as np

TABLE_HALF_EXTENT = 1.0  # walls enclose [-1, 1]^2
BAR_HALF_SIZE = (0.24, 0.06)
STEM_HALF_SIZE = (0.06, 0.18)


def _block_rectangles() -> tuple[np.ndarray, np.ndarray]:
    """Centres (2, 2) and half sizes (2, 2) of the bar and the stem in the block frame.

    The block frame has its origin at the T's centre of mass (uniform density).
    """
    (bar_w, bar_h), (stem_w, stem_h) = BAR_HALF_SIZE, STEM_HALF_SIZE
    # frame with the bar's lower edge (the stem's upper end) at y = 0
    centres = np.array([[0.0, bar_h], [0.0, -stem_h]])
    areas = np.array([bar_w * bar_h, stem_w * stem_h])
    com_y = float(areas @ centres[:, 1] / areas.sum())
    return centres - [0.0, com_y], np.array([BAR_HALF_SIZE, STEM_HALF_SIZE])


BLOCK_CENTRES, BLOCK_HALF_SIZES = _block_rectangles()
# uniform-density polar moment per unit area about the centre of mass (units^2)
BLOCK_GYRATION_SQ = float(
    sum(
        4 * w * h * ((w * w + h * h) / 3 + c @ c)
        for c, (w, h) in zip(BLOCK_CENTRES, BLOCK_HALF_SIZES, strict=True)
    )
    / sum(4 * w * h for w, h in BLOCK_HALF_SIZES)
)


def block_outline() -> np.ndarray:
    """The T's outline (8, 2) in the block frame, counter-clockwise from the bar's top right."""
    (bar_cy, stem_cy) = BLOCK_CENTRES[:, 1]
    (bar_w, bar_h), (stem_w, stem_h) = BAR_HALF_SIZE, STEM_HALF_SIZE
    top, joint, bottom = bar_cy + bar_h, bar_cy - bar_h, stem_cy - stem_h
    return np.array(
        [
            [bar_w, top],
            [-bar_w, top],
            [-bar_w, joint],
            [-stem_w, joint],
            [-stem_w, bottom],
            [stem_w, bottom],
            [stem_w, joint],
            [bar_w, joint],
        ]
    )


def to_block_frame(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """World points (..., 2) expressed in the frame of a block at ``pose`` (x, y, theta)."""
    c, s = np.cos(pose[2]), np.sin(pose[2])
    d = np.asarray(points, dtype=np.float64) - pose[:2]
    return np.stack([c * d[..., 0] + s * d[..., 1], -s * d[..., 0] + c * d[..., 1]], axis=-1)


def to_world_frame(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Block-frame points (..., 2) of a block at ``pose`` (x, y, theta) in the world frame."""
    c, s = np.cos(pose[2]), np.sin(pose[2])
    p = np.asarray(points, dtype=np.float64)
    return (
        np.stack([c * p[..., 0] - s * p[..., 1], s * p[..., 0] + c * p[..., 1]], axis=-1) + pose[:2]
    )


def distance_to_block(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Euclidean distance (...,) from world points (..., 2) to a T at ``pose``; 0 inside."""
    local = to_block_frame(points, pose)[..., None, :]  # (..., 1, 2)
    outside = np.maximum(np.abs(local - BLOCK_CENTRES) - BLOCK_HALF_SIZES, 0.0)  # (..., 2, 2)
    return np.linalg.norm(outside, axis=-1).min(axis=-1)


def block_inside_table(pose: np.ndarray, margin: float = 0.0) -> bool:
    """Whether every corner of a T at ``pose`` lies inside the walls, ``margin`` clear."""
    corners = to_world_frame(block_outline(), pose)
    return bool(np.all(np.abs(corners) <= TABLE_HALF_EXTENT - margin))
