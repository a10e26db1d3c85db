"""The errors of ``planner``: a parameter, an observation or an energy that is not what was
expected. Each is a ``ValueError`` whose message names the argument, the value received and
what was expected."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class PlannerArgumentError(ValueError):
    """A constructor or call argument of a planner or the controller out of type or range."""


class ObservationError(ValueError):
    """An observation (pixels, proprioception) given to the controller that it cannot use."""


class EnergyError(ValueError):
    """An energy that a planner cannot use: the wrong shape, or not differentiable for a
    gradient planner."""


def check_integer(name: str, value: Any, low: int = 1) -> int:
    """``value`` as an int, if it is an integer >= ``low`` (a bool or a float is not).

    Raises:
        PlannerArgumentError: naming ``name`` and the value.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise PlannerArgumentError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


def check_indices(
    name: str, values: Sequence[int] | None, what: str, nonnegative: bool = False
) -> list[int] | None:
    """``values`` as a list, if it is None (all) or a non-empty list of integers (``>= 0`` where
    ``nonnegative``; a bool is not one): which tokens, dimensions or keypoints a cost reads.

    Raises:
        EnergyError: naming ``name``, ``what`` its entries are and the value.
    """
    if values is None:
        return None
    bad = [v for v in values if type(v) is not int or (nonnegative and v < 0)]
    if len(values) == 0 or bad:
        bound = " >= 0" if nonnegative else ""
        raise EnergyError(f"{name} must be a non-empty list of {what}{bound}, got {values!r}")
    return list(values)


def check_step_size(name: str, value: Any) -> float:
    """``value`` as a float, if it is a number > 0 that float32 holds finitely.

    Raises:
        PlannerArgumentError: naming ``name`` and the value.
    """
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not 0 < value < float(np.finfo(np.float32).max):
        raise PlannerArgumentError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)
