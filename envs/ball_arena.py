"""A ball among axis-aligned walls, seen from above: the scene of PointMaze and Wall.

The ball rolls on two damped slide joints, pushed by a 2-D force; the walls are
boxes with solid, frictionless MuJoCo contacts, so the ball slides along them.
``action`` in [-1, 1]^2 is the force direction and magnitude; the velocity
settles within ~0.05 s to ``action * max_speed``. An orthographic camera straight
above sees [-1.6, 1.6]^2 (a scene's ``view_extent``). Proprio is (x, y, vx, vy); success
is the ball centre within ``success_threshold`` of the goal position.
"""

from __future__ import annotations

from typing import Any, ClassVar

import mujoco
import numpy as np
from gymnasium import spaces

from envs.base import MujocoTaskEnv
from envs.errors import EnvArgumentError, option_array
from envs.maze_layout import Box
from envs.rendering import motors_xml, top_camera_xml, visual_xml

VIEW_EXTENT = 1.6  # the camera sees [-1.6, 1.6]^2: the free area and a rim of wall
DAMPING = 20.0  # N s/m on a 1 kg ball: velocity settles in ~0.05 s


def is_clear(position: np.ndarray, boxes: list[Box], margin: float) -> bool:
    """Whether a ball centred at ``position`` (2,) with radius ``margin`` touches no box."""
    x, y = float(position[0]), float(position[1])
    return not any(
        x0 - margin < x < x1 + margin and y0 - margin < y < y1 + margin for x0, x1, y0, y1 in boxes
    )


def ball_arena_xml(
    name: str,
    image_size: int,
    max_speed: float,
    boxes: list[Box],
    radius: float,
    rgba: str,
    view_extent: float = VIEW_EXTENT,
) -> str:
    """MJCF of a ball of ``radius`` and colour ``rgba`` among the wall ``boxes``, seen from
    above over [-view_extent, view_extent]^2."""
    gear = max_speed * DAMPING
    walls = "\n".join(
        f'<geom type="box" pos="{(x0 + x1) / 2} {(y0 + y1) / 2} 0.15" '
        f'size="{(x1 - x0) / 2} {(y1 - y0) / 2} 0.15" condim="1" rgba="0.20 0.28 0.45 1"/>'
        for x0, x1, y0, y1 in boxes
    )
    return f"""
<mujoco model="{name}">
  <option timestep="0.01" gravity="0 0 0"/>
  {visual_xml(image_size, ambient=0.6, diffuse=0.4)}
  <worldbody>
    {top_camera_xml(4, view_extent)}
    <geom type="plane" size="{view_extent + 1} {view_extent + 1} 0.1" rgba="0.85 0.85 0.80 1"
          contype="0" conaffinity="0"/>
    {walls}
    <body name="ball" pos="0 0 {radius}">
      <joint name="x" type="slide" axis="1 0 0" damping="{DAMPING}"/>
      <joint name="y" type="slide" axis="0 1 0" damping="{DAMPING}"/>
      <geom type="sphere" size="{radius}" mass="1" condim="1" rgba="{rgba}"/>
    </body>
  </worldbody>
  {motors_xml(("x", "y"), gear)}
</mujoco>"""


class BallArenaEnv(MujocoTaskEnv):
    """A ball among the wall boxes ``self.walls`` (see the module docstring).

    Observation: ``{"pixels": (S, S, 3) uint8, "proprio": (4,) float32}`` with
    proprio = (x, y, vx, vy). Action: (2,) float32 force in [-1, 1].
    A subclass sets ``self.walls`` before calling this ``__init__`` and defines
    the scene's name, ball radius and colour, and the half sides of its free area.
    """

    half_extents: ClassVar[tuple[float, float]]  # the free area is [-hx, hx] x [-hy, hy]
    view_extent: ClassVar[float] = VIEW_EXTENT  # the camera sees [-v, v]^2
    scene_name: ClassVar[str]
    ball_radius: ClassVar[float]
    ball_rgba: ClassVar[str]
    walls: list[Box]

    def __init__(
        self,
        *,
        image_size: int,
        control_dt: float,
        max_speed: float,
        success_threshold: float,
        render_mode: str | None,
    ) -> None:
        self.max_speed = max_speed
        self.success_threshold = success_threshold
        super().__init__(
            image_size=image_size,
            control_dt=control_dt,
            render_mode=render_mode,
            positive={"max_speed": max_speed, "success_threshold": success_threshold},
            action_dim=2,
        )
        self.goal = np.zeros(2)

    def _scene_xml(self) -> str:
        return ball_arena_xml(
            self.scene_name,
            self.image_size,
            self.max_speed,
            self.walls,
            self.ball_radius,
            self.ball_rgba,
            self.view_extent,
        )

    def _proprio_space(self) -> spaces.Box:
        speed_bound = np.float32(4 * self.max_speed)  # walls bound |x|, |y| far more tightly
        return spaces.Box(-speed_bound, speed_bound, (4,), np.float32)

    # -- geometry -----------------------------------------------------------------
    def is_free(self, position: np.ndarray, margin: float | None = None) -> bool:
        """Whether a ball at ``position`` (2,), radius ``margin`` (the ball's), touches no wall."""
        return is_clear(position, self.walls, self.ball_radius if margin is None else margin)

    @property
    def position(self) -> np.ndarray:
        """Ball centre (2,)."""
        return self.data.qpos[:2].copy()

    def _checked_position(self, value: Any, name: str) -> np.ndarray:
        """``options[name]`` as a ball position (2,) inside the free area, clear of the walls.

        Raises:
            EnvArgumentError: not a finite (x, y) pair, outside the arena, or in a wall.
        """
        p = option_array(value, f"options[{name!r}]", "a finite (x, y) pair")
        if p.shape != (2,) or not np.all(np.isfinite(p)):
            raise EnvArgumentError(f"options[{name!r}] must be a finite (x, y) pair, got {value!r}")
        if not self.is_free(p):
            raise EnvArgumentError(f"options[{name!r}] = {p.tolist()} is inside or touching a wall")
        x_limit, y_limit = np.asarray(self.half_extents) - self.ball_radius
        if abs(p[0]) > x_limit or abs(p[1]) > y_limit:
            raise EnvArgumentError(
                f"options[{name!r}] = {p.tolist()} is outside the arena: the ball centre must lie "
                f"in [-{x_limit:g}, {x_limit:g}] x [-{y_limit:g}, {y_limit:g}]"
            )
        return p

    # -- task hooks ---------------------------------------------------------------
    def _place(self, data: mujoco.MjData, position: np.ndarray) -> None:
        data.qpos[:] = position

    def goal_state(self) -> tuple[np.ndarray]:
        """The goal image shows the ball resting at the goal position."""
        return (self.goal,)

    def _proprio(self, data: mujoco.MjData) -> np.ndarray:
        return np.concatenate([data.qpos[:2], data.qvel[:2]])

    def task_state(self) -> np.ndarray:
        """The ball's centre (x, y) (2,)."""
        return self.position.astype(np.float32)

    def _goal_info(self) -> dict[str, Any]:
        distance = float(np.linalg.norm(self.position - self.goal))
        return {"distance": distance, "success": distance < self.success_threshold}
