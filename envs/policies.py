"""Data-collection policies: random, persistent random, scripted expert, noisy expert.

Every policy is built per episode by :func:`make_policy` from the episode's own
generator, so an episode's actions depend only on its seed (not on which worker
collects it or in which order).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from envs.experts import make_expert

Policy = Callable[[dict[str, np.ndarray]], np.ndarray]
POLICIES = ("random", "persistent", "expert", "noisy_expert")


class UniformRandomPolicy:
    """I.i.d. uniform actions within the bounds (A,)."""

    def __init__(self, low: np.ndarray, high: np.ndarray, rng: np.random.Generator) -> None:
        self.low, self.high = np.asarray(low), np.asarray(high)
        self.rng = rng

    def __call__(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return self.rng.uniform(self.low, self.high).astype(np.float32)


class PersistentRandomPolicy:
    """Uniform random actions held for a random number of steps.

    Holding an action produces straight runs and wall contacts that a purely
    i.i.d. policy rarely shows, which gives the world model coverage of the
    whole scene and of collisions.

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


def make_policy(
    name: str,
    env_id: str,
    env: gym.Env,
    rng: np.random.Generator,
    hold_prob: float = 0.7,
    noise: float = 0.3,
    expert_settings: Mapping[str, Any] | None = None,
) -> Policy:
    """A fresh policy for one episode of ``env`` (call after ``env.reset``).

    Args:
        name: ``random`` (i.i.d. uniform), ``persistent`` (uniform, held with
            probability ``hold_prob``), ``expert`` (the scripted expert on the true
            state) or ``noisy_expert`` (the expert plus Gaussian noise of std
            ``noise`` times the action range).
        expert_settings: keyword arguments of the expert's own (``make_expert``).
        env_id: registered id, to find the expert.
        env: the environment the policy acts in.
        rng: the episode's generator.
    """
    space = env.action_space
    if name == "random":
        return UniformRandomPolicy(space.low, space.high, rng)
    if name == "persistent":
        return PersistentRandomPolicy(space.low, space.high, hold_prob, rng)
    if name in ("expert", "noisy_expert"):
        noise = noise if name == "noisy_expert" else 0.0
        expert = make_expert(env_id, env, noise=noise, rng=rng, **(expert_settings or {}))
        expert.reset()
        return expert
    raise ValueError(f"unknown policy {name!r}; known: {', '.join(POLICIES)}")


def episode_outcome(env_id: str, policy: str, seed: int) -> tuple[bool, bool]:
    """Runs ``policy`` (a ``make_policy`` name, noise-free) for one budget-long episode.

    Args:
        env_id: registered id; the episode lasts its registered step budget.
        policy: ``random``, ``persistent``, ``expert`` or ``noisy_expert``.
        seed: reset seed and the policy's generator seed.

    Returns:
        (success at the final step, success at any step).
    """
    env = gym.make(env_id)
    _, info = env.reset(seed=seed)
    act = make_policy(policy, env_id, env.unwrapped, np.random.default_rng(seed), noise=0.0)
    touched, done = info["success"], False
    obs = None
    while not done:
        obs, _, terminated, truncated, info = env.step(act(obs))
        touched = touched or info["success"]
        done = terminated or truncated
    env.close()
    return bool(info["success"]), bool(touched)
