"""localisation_errors: an exact linear read-out is off by nothing; noise on the frames with
the agent near shows in their bin only; too few frames to fit are refused."""

import numpy as np
import pytest

from benchmarks.localisation_errors import localisation_errors


def test_errors_are_zero_for_an_exact_map_and_grow_only_where_the_features_are_noisy():
    rng = np.random.default_rng(0)
    target = rng.uniform(-1, 1, (400, 2))
    features = np.c_[target @ np.array([[2.0, 0.5], [-1.0, 3.0]]) + 0.3, rng.normal(size=400)]
    distance = np.r_[np.full(100, 0.01), np.full(300, 0.5)]  # the first 100 frames: agent near
    resting = np.r_[np.ones(390, bool), np.zeros(10, bool)]
    exact = localisation_errors(features, target, distance, resting, 0.1, [0.0, 0.05, 1.0])
    assert [r["frames"] for r in exact] == [
        "resting, agent [0.0, 0.05)",
        "resting, agent [0.05, 1.0)",
        "carried",
    ]
    assert [r["n"] for r in exact] == [100, 290, 10]
    assert max(r["p90"] for r in exact) < 1e-9
    noisy = features.copy()
    noisy[:100, :2] += rng.normal(0, 0.5, (100, 2))  # the agent hides the object when near
    rows = localisation_errors(noisy, target, distance, resting, 0.1, [0.0, 0.05, 1.0])
    assert rows[0]["median"] > 0.05 and rows[1]["p90"] < 1e-9 and rows[2]["p90"] < 1e-9
    with pytest.raises(ValueError, match="only 0 resting frames with the agent beyond 2.0"):
        localisation_errors(features, target, distance, resting, 2.0, [0.0, 1.0])
