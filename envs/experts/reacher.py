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

    Args:
        env: the unwrapped :class:`ReacherEnv`.
        noise: std of the Gaussian noise added to each action, as a fraction of
            the action range; the result is clipped to the action space.
        rng: generator for the noise (a fresh unseeded one when None).
    """

    def __init__(
        self, env: ReacherEnv, noise: float = 0.0, rng: np.random.Generator | None = None
    ) -> None:
        super().__init__(env, noise, rng)
        self.reach = env.max_speed * env.frame_skip * env.model.opt.timestep  # rad per step

    def reset(self) -> None:
        """Nothing to reset: the expert is a function of the current state."""

    def __call__(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        angles, goal = self.env.angles, self.env.goal
        error = np.array([wrap_angle(goal[0] - angles[0]), goal[1] - angles[1]])
        action = error / self.reach
        return self.noisy(action)
