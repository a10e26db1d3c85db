"""Latency percentiles of the real-time benchmarks (``serve_load``, ``realtime_loop``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def latency_ms(seconds: Sequence[float]) -> dict[str, float]:
    """{"p50_ms", "p99_ms", "max_ms"} of durations in seconds; NaN without any."""
    if not len(seconds):
        return {"p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
    values = 1000 * np.asarray(seconds, dtype=np.float64)
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p99_ms": float(np.percentile(values, 99)),
        "max_ms": float(values.max()),
    }
