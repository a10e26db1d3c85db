"""The errors of ``envs``: what enters it (dataset files, constructor arguments, reset options)
and is not what was expected. Both are ``ValueError``s that name the file or argument, the
value found and what was expected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


class DatasetError(ValueError):
    """A dataset file or field that breaks the format.

    Attributes:
        path: the file.
        field: the field (``pixels``, ``proprio``, ``actions``, ``meta.json`` keys, ...).
    """

    def __init__(self, path: str | Path, field: str, problem: str) -> None:
        self.path = Path(path)
        self.field = field
        super().__init__(f"{path}: {field}: {problem}")


class EnvArgumentError(ValueError):
    """An environment constructor argument or reset option out of its type or range."""


def check_integer(name: str, value: Any, low: int, high: int | None = None) -> int:
    """``value`` as an int, if it is an integer (not a bool, not a float) in [low, high].

    Raises:
        EnvArgumentError: naming ``name``, the value and the range.
    """
    is_integer = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not is_integer or value < low or (high is not None and value > high):
        interval = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise EnvArgumentError(f"{name} must be an integer {interval}, got {value!r}")
    return int(value)


def option_array(value: Any, name: str, expected: str) -> np.ndarray:
    """A reset option as a float64 array, or an EnvArgumentError naming it.

    Args:
        value: the option's value as received.
        name: how to name it, e.g. ``options['start']``.
        expected: what it should be, e.g. ``a finite (x, y) pair``.
    """
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:  # strings, mappings, ragged sequences
        raise EnvArgumentError(f"{name} must be {expected}, got {value!r}") from err
