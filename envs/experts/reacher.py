"""Scripted expert for wmplan/Reacher-v0: a proportional controller in joint space.

Reads the joint angles and the goal configuration from the environment (true
state). The shoulder turns the short way round (its error is wrapped to
[-pi, pi)); the elbow, being limited, turns directly. Each joint's command is
its error divided by the angle one full-speed step turns, clipped to [-1, 1],
so the arm stops on the goal.
"""

from __future__ import annotations

import numpy as np

from envs.experts.base import ScriptedExpert
from envs.geometry import wrap_angle
from envs.reacher import ReacherEnv


class ReacherExpert(ScriptedExpert):
    """Joint-space proportional controller (see the module docstring).

    ``env`` is the unwrapped :class:`ReacherEnv`; the noise is as in :class:`ScriptedExpert`.
    """

    def __init__(
        self, env: ReacherEnv, noise: float = 0.0, rng: np.random.Generator | None = None
    ) -> None:
        super().__init__(env, noise, rng)
        self.reach = env.max_speed * env.frame_skip * env.model.opt.timestep  # rad per step

    def __call__(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        angles, goal = self.env.angles, self.env.goal
        error = np.array([wrap_angle(goal[0] - angles[0]), goal[1] - angles[1]])
        action = error / self.reach
        return self.noisy(action)
