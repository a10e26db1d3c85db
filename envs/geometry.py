"""Planar geometry shared by the tasks."""

from __future__ import annotations

import numpy as np


def wrap_angle(angle: np.ndarray | float) -> np.ndarray:
    """Angle(s) wrapped to [-pi, pi), element-wise; same shape as ``angle``."""
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi
