"""How far a linear read-out of an object's position is off, by how near the agent is."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def localisation_errors(
    features: np.ndarray,
    target: np.ndarray,
    distance: np.ndarray,
    resting: np.ndarray,
    fit_beyond: float,
    bins: Sequence[float],
) -> list[dict[str, float | int | str]]:
    """Fits ``target`` (F, d) from ``features`` (F, k) by least squares (with an offset) on the
    resting frames whose agent ``distance`` (F,) exceeds ``fit_beyond``, then reports the
    error's median and 90th percentile per distance bin of the resting frames, and on the
    others (``carried``).

    Raises:
        ValueError: too few frames to fit.
    """
    fit = resting & (distance > fit_beyond)
    if fit.sum() <= features.shape[1] + 1:
        raise ValueError(f"only {fit.sum()} resting frames with the agent beyond {fit_beyond}")
    inputs = np.c_[features, np.ones(len(features))]
    weights, *_ = np.linalg.lstsq(inputs[fit], target[fit], rcond=None)
    errors = np.linalg.norm(inputs @ weights - target, axis=1)  # (F,)
    edges = list(zip(bins[:-1], bins[1:], strict=True))
    groups = [(f"resting, agent [{lo}, {hi})", resting & (lo <= distance) & (distance < hi))
              for lo, hi in edges] + [("carried", ~resting)]  # fmt: skip
    rows: list[dict[str, float | int | str]] = []
    for label, chosen in groups:
        e = errors[chosen]
        median, p90 = (np.median(e), np.percentile(e, 90)) if len(e) else (np.nan, np.nan)
        rows.append({"frames": label, "n": int(len(e)), "median": float(median),
                     "p90": float(p90)})  # fmt: skip
    return rows
