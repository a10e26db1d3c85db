"""Scripted experts: controllers that read an environment's true state.

They prove that benchmark goals are reachable within the episode budget and,
with noise, collect data where random motion rarely produces interaction.
Every expert has the signature ``Expert(env, noise=0.0, rng=None)`` where
``env`` is the unwrapped environment, ``noise`` the standard deviation of
Gaussian noise added to each action (as a fraction of the action range), and
exposes ``reset()`` (call after ``env.reset``) and ``__call__(obs) -> action``.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import gymnasium as gym
import numpy as np

EXPERTS = {
    "wmplan/PointMaze-v0": "envs.experts.point_maze:PointMazeExpert",
    "wmplan/Wall-v0": "envs.experts.wall:WallExpert",
    "wmplan/PushT-v0": "envs.experts.push_t:PushTExpert",
    "wmplan/Reacher-v0": "envs.experts.reacher:ReacherExpert",
    "wmplan/Cube-v0": "envs.experts.cube:CubeExpert",
    "wmplan/LargeMaze-v0": "envs.experts.point_maze:PointMazeExpert",
}


def make_expert(
    env_id: str,
    env: gym.Env,
    noise: float = 0.0,
    rng: np.random.Generator | None = None,
    **settings: Any,
):
    """The scripted expert of ``env_id`` driving ``env`` (wrapped or not); ``settings`` are
    that expert's own keyword arguments (such as the Cube expert's ``aim_noise``).

    Raises:
        ValueError: no expert for ``env_id``, or a setting it does not take.
    """
    if env_id not in EXPERTS:
        raise ValueError(f"no scripted expert for {env_id!r}; known: {sorted(EXPERTS)}")
    module, name = EXPERTS[env_id].split(":")
    expert = getattr(importlib.import_module(module), name)
    unknown = sorted(set(settings) - set(inspect.signature(expert).parameters))
    if unknown:
        raise ValueError(f"{name} takes no setting {unknown}")
    return expert(env.unwrapped, noise=noise, rng=rng, **settings)
