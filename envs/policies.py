"""Exploration policies for data collection."""

from __future__ import annotations

import numpy as np


class PersistentRandomPolicy:
    """Uniform random actions held for a random number of steps.

    Holding an action produces straight runs and wall contacts that a purely
    i.i.d. policy rarely shows, which gives the world model coverage of the
    whole maze and of collisions.

    Args:
        low, high: action bounds (A,).
        hold_prob: probability of repeating the previous action at each step.
        rng: numpy generator.
    """

    def __init__(
        self, low: np.ndarray, high: np.ndarray, hold_prob: float, rng: np.random.Generator
    ) -> None:
        if not 0.0 <= hold_prob < 1.0:
            raise ValueError(f"hold_prob must be in [0, 1), got {hold_prob}")
        self.low, self.high = np.asarray(low), np.asarray(high)
        self.hold_prob = hold_prob
        self.rng = rng
        self._action: np.ndarray | None = None

    def reset(self) -> None:
        self._action = None

    def __call__(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        if self._action is None or self.rng.random() >= self.hold_prob:
            self._action = self.rng.uniform(self.low, self.high).astype(np.float32)
        return self._action
