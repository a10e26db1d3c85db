"""What every scripted expert shares: its environment and Gaussian action noise."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class ScriptedExpert:
    """Base of the scripted experts (the contract is in :mod:`envs.experts`).

    Args:
        env: the unwrapped environment whose true state the expert reads.
        noise: std of the Gaussian noise added to each action, as a fraction of the
            action range; the result is clipped to the action space.
        rng: generator for the noise (a fresh unseeded one when None).
    """

    def __init__(
        self, env: gym.Env, noise: float = 0.0, rng: np.random.Generator | None = None
    ) -> None:
        if noise < 0:
            raise ValueError(f"noise must be >= 0, got {noise}")
        self.env = env
        self.noise = noise
        self.rng = rng if rng is not None else np.random.default_rng()

    def reset(self) -> None:
        """Forget any per-episode memory (call after ``env.reset``); none unless overridden."""

    def noisy(self, action: np.ndarray) -> np.ndarray:
        """``action`` (A,) plus the noise, clipped to the action space, as float32."""
        space = self.env.action_space
        if self.noise > 0:
            action = action + self.rng.normal(0.0, self.noise * (space.high - space.low))
        return np.clip(action, space.low, space.high).astype(np.float32)
