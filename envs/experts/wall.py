"""Scripted expert for wmplan/Wall-v0 (DINO-WM's two-room Wall task): through the door.

Reads the ball and goal positions from the environment (true state). It heads
for the first point of [goal, door mouth on the goal's side, door mouth on the
other side] that the ball can reach in a straight line without touching a wall
(the mouths lie just off the wall, level with the door centre), so from the
other room it lines up with the door, passes it, then goes straight to the
goal. The action is the proportional step of the point-maze expert: the
displacement divided by one full-force step, scaled to [-1, 1] keeping its
direction.
"""

from __future__ import annotations

import numpy as np

from envs.experts.base import ScriptedExpert
from envs.experts.point_maze import proportional_action, segment_is_clear, step_reach
from envs.wall import BALL_RADIUS, WALL_HALF_THICKNESS, WallEnv

MOUTH_OFFSET = WALL_HALF_THICKNESS + BALL_RADIUS + 0.15  # |x| of the door mouths


class WallExpert(ScriptedExpert):
    """Goal-or-door follower (see the module docstring).

    ``env`` is the unwrapped :class:`WallEnv`; the noise is as in :class:`ScriptedExpert`.
    """

    def __init__(
        self, env: WallEnv, noise: float = 0.0, rng: np.random.Generator | None = None
    ) -> None:
        super().__init__(env, noise, rng)
        self.reach = step_reach(env)

    def target(self) -> np.ndarray:
        """The point (2,) the expert heads for now."""
        position, goal = self.env.position, self.env.goal
        goal_side = 1.0 if goal[0] >= 0 else -1.0
        candidates = [
            goal,
            np.array([goal_side * MOUTH_OFFSET, self.env.door_center]),
            np.array([-goal_side * MOUTH_OFFSET, self.env.door_center]),
        ]
        for point in candidates:
            if segment_is_clear(position, point, self.env.walls, BALL_RADIUS):
                return point
        return candidates[-1]

    def __call__(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        action = proportional_action(self.target() - self.env.position, self.reach)
        return self.noisy(action)
