"""A point mass in a U-shaped maze, seen from above (DINO-WM's PointMaze task).

The maze is D4RL's ``umaze`` layout: three free cells along the top, one on the
right, three along the bottom, so a goal behind the inner wall needs a detour.
Maze units are cells of side 1.0 centred on integer coordinates; the free area
spans [-1.5, 1.5] x [-1.5, 1.5] and the inner wall covers
[-1.5, 0.5] x [-0.5, 0.5].

Dynamics: a ball of radius 0.15 on two damped slide joints, pushed by a 2-D
force; contacts with the walls are frictionless, so the ball slides along them.
``action`` in [-1, 1]^2 is the force direction and magnitude; the ball reaches
at most ``max_speed`` (2.4) units per second, so one control step
(``control_dt`` seconds, 0.5 by default, i.e. 2 Hz) moves it at most about 1.2
units. The walls are solid (MuJoCo contacts).

Success: the ball centre is within ``success_threshold`` (0.5 maze units, as in
DINO-WM) of the goal position.

Goals: ``reset(options={"start": (x, y), "goal": (x, y)})`` places both;
missing ones are sampled uniformly over the free area with
``env.np_random``, the goal at least ``min_goal_distance`` away from the start.
The goal image is the maze rendered with the ball at the goal, returned in the
reset ``info["goal_obs"]`` and by :meth:`PointMazeEnv.goal_observation`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.ball_arena import BallArenaEnv, is_clear
from envs.maze_layout import MazeLayout

U_MAZE = MazeLayout(("#####", "#...#", "###.#", "#...#", "#####"))
BALL_RADIUS = 0.15
HALF_EXTENT = 1.5  # free area is [-1.5, 1.5]^2


def is_free(position: np.ndarray, margin: float = BALL_RADIUS) -> bool:
    """Whether a ball centred at ``position`` (2,) with radius ``margin`` touches no wall."""
    return is_clear(position, U_MAZE.wall_boxes(), margin)


class PointMazeEnv(BallArenaEnv):
    """Point mass in D4RL's U-maze with top-down pixels and proprioception.

    Observations and actions are those of :class:`~envs.ball_arena.BallArenaEnv`.
    """

    scene_name = "point_maze"
    layout = U_MAZE
    ball_radius = BALL_RADIUS
    half_extents = (HALF_EXTENT, HALF_EXTENT)
    ball_rgba = "0.85 0.15 0.10 1"  # red

    def __init__(
        self,
        image_size: int = 64,
        control_dt: float = 0.5,
        max_speed: float = 2.4,
        success_threshold: float = 0.5,
        min_goal_distance: float = 1.0,
        render_mode: str | None = "rgb_array",
    ) -> None:
        self.min_goal_distance = min_goal_distance
        self.walls = self.layout.wall_boxes()
        super().__init__(
            image_size=image_size,
            control_dt=control_dt,
            max_speed=max_speed,
            success_threshold=success_threshold,
            render_mode=render_mode,
        )

    def sample_free_position(self) -> np.ndarray:
        """A uniform position (2,) in the free area, clear of walls, from ``np_random``."""
        limits = np.asarray(self.half_extents) - self.ball_radius
        while True:
            p = self.np_random.uniform(-limits, limits)
            if self.is_free(p):
                return p

    def _sample_episode(self, options: dict[str, Any]) -> tuple[np.ndarray]:
        start = (
            self._checked_position(options["start"], "start")
            if "start" in options
            else self.sample_free_position()
        )
        if "goal" in options:
            self.goal = self._checked_position(options["goal"], "goal")
        else:
            self.goal = self.sample_free_position()
            while np.linalg.norm(self.goal - start) < self.min_goal_distance:
                self.goal = self.sample_free_position()
        return (start,)
