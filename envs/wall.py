"""A point agent in two rooms joined by a door, seen from above (DINO-WM's Wall task).

Origin: the Wall environment of DINO-WM (Zhou et al. 2024, "DINO-WM: World
Models on Pre-trained Visual Features enable Zero-shot Planning"), itself taken
from the two-room navigation task of Sobal et al. 2025 ("Learning from
Reward-Free Offline Data: A Case for Planning with Latent Dynamics Models"):
the agent starts in one room and must reach a goal in the other, so it has to
find the door. Here the door is fixed per environment (kwarg ``door_center``).

Layout (units): the free area is [-1.5, 1.5]^2, split by a vertical wall
covering x in [-0.1, 0.1]; the door is the gap y in ``door_center`` +- 0.4
(``door_width`` 0.8). The left room is x < 0, the right room x > 0.

Dynamics: a ball of radius 0.12 on two damped slide joints, pushed by a 2-D
force; walls are solid, frictionless MuJoCo contacts, so the ball slides along
them. ``action`` in [-1, 1]^2 is the force direction and magnitude (values
outside are clipped); the velocity settles within ~0.05 s to
``action * max_speed`` (2.0 units/s). One control step lasts ``control_dt``
seconds (0.25 by default, i.e. 4 Hz), so a step moves the ball at most about
0.5 units. The registered episode budget is 50 steps; the longest expert path
(corner to corner through the door) takes about 10.

Goals: ``reset`` samples the start uniformly in a room chosen at random and the
goal uniformly in the OTHER room (ball clear of every wall), both with
``env.np_random``. ``reset(options={"start": (x, y), "goal": (x, y)})`` places
either or both (anywhere free, the doorway included); when only one is given,
the other is sampled in the opposite room. The goal image is the arena
rendered with the ball resting at the goal, in the reset ``info["goal_obs"]``
and from :meth:`WallEnv.goal_observation`.

Success: the ball centre is within ``success_threshold`` (0.25 units, about one
ball diameter or 5 pixels at 64x64) of the goal.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.ball_arena import BallArenaEnv
from envs.maze_layout import Box

BALL_RADIUS = 0.12
HALF_EXTENT = 1.5  # free area is [-1.5, 1.5]^2
WALL_HALF_THICKNESS = 0.1  # the dividing wall covers x in [-0.1, 0.1]
RIM = 0.3  # thickness of the outer walls


def wall_boxes(door_center: float, door_width: float) -> list[Box]:
    """Axis-aligned wall boxes (x_min, x_max, y_min, y_max): the outer rim and the split wall."""
    h, t, w = HALF_EXTENT, RIM, WALL_HALF_THICKNESS
    door_low, door_high = door_center - door_width / 2, door_center + door_width / 2
    return [
        (-h - t, h + t, h, h + t),  # top
        (-h - t, h + t, -h - t, -h),  # bottom
        (-h - t, -h, -h, h),  # left
        (h, h + t, -h, h),  # right
        (-w, w, door_high, h),  # dividing wall above the door
        (-w, w, -h, door_low),  # dividing wall below the door
    ]


class WallEnv(BallArenaEnv):
    """Point agent in two rooms split by a wall with one door; top-down pixels and proprio.

    Observations and actions are those of :class:`~envs.ball_arena.BallArenaEnv`.
    """

    scene_name = "wall"
    ball_radius = BALL_RADIUS
    half_extents = (HALF_EXTENT, HALF_EXTENT)
    ball_rgba = "0.10 0.60 0.20 1"  # green

    def __init__(
        self,
        image_size: int = 64,
        control_dt: float = 0.25,
        max_speed: float = 2.0,
        success_threshold: float = 0.25,
        door_center: float = 0.6,
        door_width: float = 0.8,
        render_mode: str | None = "rgb_array",
    ) -> None:
        if not door_width > 2 * BALL_RADIUS:
            raise ValueError(
                f"door_width must exceed the ball diameter {2 * BALL_RADIUS}, got {door_width}"
            )
        if not abs(door_center) + door_width / 2 <= HALF_EXTENT:
            raise ValueError(
                f"the door (door_center {door_center} +- door_width/2 {door_width / 2}) "
                f"must lie within [-{HALF_EXTENT}, {HALF_EXTENT}]"
            )
        self.door_center = door_center
        self.door_width = door_width
        self.walls = wall_boxes(door_center, door_width)
        super().__init__(
            image_size=image_size,
            control_dt=control_dt,
            max_speed=max_speed,
            success_threshold=success_threshold,
            render_mode=render_mode,
        )

    def sample_in_room(self, side: int) -> np.ndarray:
        """A uniform free position (2,) in the left (``side`` -1) or right (+1) room."""
        inner, outer = WALL_HALF_THICKNESS + BALL_RADIUS, HALF_EXTENT - BALL_RADIUS
        x = side * self.np_random.uniform(inner, outer)
        y = self.np_random.uniform(-outer, outer)
        return np.array([x, y])

    def _sample_episode(self, options: dict[str, Any]) -> tuple[np.ndarray]:
        start = goal = None
        if "start" in options:
            start = self._checked_position(options["start"], "start")
        if "goal" in options:
            goal = self._checked_position(options["goal"], "goal")
        if start is None and goal is None:
            start = self.sample_in_room(1 if self.np_random.random() < 0.5 else -1)
        if goal is None:
            goal = self.sample_in_room(-1 if start[0] >= 0 else 1)
        if start is None:
            start = self.sample_in_room(-1 if goal[0] >= 0 else 1)
        self.goal = goal
        return (start,)
