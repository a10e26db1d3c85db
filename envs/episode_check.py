"""What a valid episode is, checked in one place.

The reader (``read_episode``), the writer (``write_episode``), ``wmplan-dataset`` and
training all call :func:`check_episode`, so an episode that breaks the format is refused
with the file and the field named, wherever it would enter. An episode of ``T >= 1``
actions holds::

    pixels   (T+1, H, W, 3) uint8
    proprio  (T+1, p)       floating point, finite
    actions  (T, A)         floating point, finite, A >= 1
    states   (T+1, s)       floating point, finite (optional: the task's true state)

The pixels are checked from their shape and dtype alone (uint8 is always finite), so a
check never needs to read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from envs.errors import DatasetError


@dataclass(frozen=True)
class StepShapes:
    """The per-step shapes of an episode: pixels (H, W, 3), proprio (p,), actions (A,),
    states (s,) or None when the episode records none."""

    pixels: tuple[int, ...]
    proprio: tuple[int, ...]
    actions: tuple[int, ...]
    states: tuple[int, ...] | None = None


def check_episode(
    path: str | Path,
    pixels_shape: tuple[int, ...],
    pixels_dtype: np.dtype,
    proprio: np.ndarray,
    actions: np.ndarray,
    states: np.ndarray | None = None,
) -> StepShapes:
    """Checks one episode against the format.

    Args:
        path: the episode's file (named in errors).
        pixels_shape, pixels_dtype: the shape (T+1, H, W, 3) and dtype of its pixels.
        proprio: (T+1, p) proprioception.
        actions: (T, A) actions.
        states: (T+1, s) task states, or None when the episode records none.

    Returns:
        Its per-step shapes.

    Raises:
        DatasetError: naming the file, the field, the value found and what was expected.
    """
    pixels_shape = tuple(pixels_shape)
    if len(pixels_shape) != 4 or pixels_shape[-1] != 3 or 0 in pixels_shape:
        raise DatasetError(path, "pixels", f"shape {pixels_shape}, expected (T+1, H, W, 3)")
    if np.dtype(pixels_dtype) != np.uint8:
        raise DatasetError(
            path, "pixels", f"dtype {np.dtype(pixels_dtype)}, expected uint8 (0..255)"
        )
    fields = [("proprio", proprio), ("actions", actions)]
    fields += [] if states is None else [("states", states)]
    expected_shape = {"proprio": "(T+1, p)", "actions": "(T, A)", "states": "(T+1, s)"}
    for field, values in fields:
        if values.ndim != 2:
            expected = expected_shape[field]
            raise DatasetError(path, field, f"shape {values.shape}, expected {expected}")
        if not np.issubdtype(values.dtype, np.floating):
            raise DatasetError(path, field, f"dtype {values.dtype}, expected floating point")
        bad = ~np.isfinite(values)
        if bad.any():
            row, column = np.argwhere(bad)[0]
            raise DatasetError(
                path,
                field,
                f"{int(bad.sum())} non-finite values, the first {values[row, column]} at "
                f"row {row} column {column}; expected finite numbers",
            )
    T = len(actions)
    if T < 1 or actions.shape[1] < 1:
        raise DatasetError(path, "actions", f"shape {actions.shape}, expected (T, A), T, A >= 1")
    if pixels_shape[0] != T + 1:
        raise DatasetError(
            path, "pixels", f"{pixels_shape[0]} frames for {T} actions, expected T+1 = {T + 1}"
        )
    for field, values in fields:
        if field != "actions" and len(values) != T + 1:
            raise DatasetError(
                path, field, f"{len(values)} rows for {T} actions, expected T+1 = {T + 1}"
            )
    return StepShapes(
        pixels_shape[1:],
        proprio.shape[1:],
        actions.shape[1:],
        None if states is None else states.shape[1:],
    )


def check_same_shapes(path: str | Path, shapes: StepShapes, reference: StepShapes) -> None:
    """Raises a DatasetError naming ``path`` unless its step shapes equal the reference's
    (those of the dataset's first episode); states are compared where both record them."""
    for field in ("pixels", "proprio", "actions", "states"):
        found, expected = getattr(shapes, field), getattr(reference, field)
        if found != expected and None not in (found, expected):
            raise DatasetError(
                path,
                field,
                f"per-step shape {found}, but the dataset's first episode has {expected}",
            )
