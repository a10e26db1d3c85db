"""Planners by name."""

from __future__ import annotations

from typing import Any

from planner.base import Planner
from planner.cem import CEM
from planner.gradcem import GradCEM
from planner.gradient import Adam, GradientDescent
from planner.icem import ICEM
from planner.mppi import MPPI

PLANNERS: dict[str, type[Planner]] = {
    "cem": CEM,
    "icem": ICEM,
    "mppi": MPPI,
    "gd": GradientDescent,
    "adam": Adam,
    "gradcem": GradCEM,
}
"""Planner classes by the name `make_planner` takes; a new planner adds one entry."""


def make_planner(name: str, **kwargs: Any) -> Planner:
    """Builds a planner by name.

    Args:
        name: a key of `PLANNERS` (e.g. "cem").
        **kwargs: the planner's keyword arguments: `horizon`, `action_dim`, `low`, `high`,
            `device` and its algorithm parameters (see the planner class).

    Returns:
        The planner.

    Raises:
        ValueError: on an unknown name (listing the known ones) or a bad parameter.
    """
    if name not in PLANNERS:
        raise ValueError(f"unknown planner {name!r}; known planners: {', '.join(sorted(PLANNERS))}")
    return PLANNERS[name](**kwargs)
