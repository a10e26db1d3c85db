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

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from envs.rendering import MAX_IMAGE_SIZE, check_render_options  # sets MUJOCO_GL

MAZE_LAYOUT = (
    "#####",
    "#...#",
    "###.#",
    "#...#",
    "#####",
)
BALL_RADIUS = 0.15
HALF_EXTENT = 1.5  # free area is [-1.5, 1.5]^2
VIEW_EXTENT = 1.6  # the camera sees [-1.6, 1.6]^2: the free area and a rim of wall


def wall_boxes() -> list[tuple[float, float, float, float]]:
    """Axis-aligned wall boxes (x_min, x_max, y_min, y_max) of the maze layout."""
    boxes = []
    rows = len(MAZE_LAYOUT)
    for i, row in enumerate(MAZE_LAYOUT):
        for j, cell in enumerate(row):
            if cell == "#":
                cx, cy = j - (len(row) - 1) / 2, (rows - 1) / 2 - i
                boxes.append((cx - 0.5, cx + 0.5, cy - 0.5, cy + 0.5))
    return boxes


def is_free(position: np.ndarray, margin: float = BALL_RADIUS) -> bool:
    """Whether a ball centred at ``position`` (2,) with radius ``margin`` touches no wall."""
    x, y = float(position[0]), float(position[1])
    return not any(
        x0 - margin < x < x1 + margin and y0 - margin < y < y1 + margin
        for x0, x1, y0, y1 in wall_boxes()
    )


def _maze_xml(image_size: int, max_speed: float) -> str:
    damping = 20.0  # N s/m on a 1 kg ball: velocity settles in ~0.05 s
    gear = max_speed * damping
    walls = "\n".join(
        f'<geom type="box" pos="{(x0 + x1) / 2} {(y0 + y1) / 2} 0.15" '
        f'size="{(x1 - x0) / 2} {(y1 - y0) / 2} 0.15" condim="1" rgba="0.20 0.28 0.45 1"/>'
        for x0, x1, y0, y1 in wall_boxes()
    )
    offscreen = max(image_size, MAX_IMAGE_SIZE)
    return f"""
<mujoco model="point_maze">
  <option timestep="0.01" gravity="0 0 0"/>
  <visual>
    <global offwidth="{offscreen}" offheight="{offscreen}"/>
    <headlight ambient="0.6 0.6 0.6" diffuse="0.4 0.4 0.4" specular="0 0 0"/>
  </visual>
  <worldbody>
    <camera name="top" pos="0 0 4" projection="orthographic" fovy="{2 * VIEW_EXTENT}"/>
    <geom type="plane" size="3 3 0.1" rgba="0.85 0.85 0.80 1" contype="0" conaffinity="0"/>
    {walls}
    <body name="ball" pos="0 0 {BALL_RADIUS}">
      <joint name="x" type="slide" axis="1 0 0" damping="{damping}"/>
      <joint name="y" type="slide" axis="0 1 0" damping="{damping}"/>
      <geom type="sphere" size="{BALL_RADIUS}" mass="1" condim="1" rgba="0.85 0.15 0.10 1"/>
    </body>
  </worldbody>
  <actuator>
    <motor joint="x" gear="{gear}" ctrlrange="-1 1" ctrllimited="true"/>
    <motor joint="y" gear="{gear}" ctrlrange="-1 1" ctrllimited="true"/>
  </actuator>
</mujoco>"""


class PointMazeEnv(gym.Env):
    """Point mass in D4RL's U-maze with top-down pixels and proprioception.

    Observation: ``{"pixels": (S, S, 3) uint8, "proprio": (4,) float32}`` with
    proprio = (x, y, vx, vy). Action: (2,) float32 force in [-1, 1].
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}

    def __init__(
        self,
        image_size: int = 64,
        control_dt: float = 0.5,
        max_speed: float = 2.4,
        success_threshold: float = 0.5,
        min_goal_distance: float = 1.0,
        render_mode: str | None = "rgb_array",
    ) -> None:
        check_render_options(image_size, render_mode)
        if control_dt <= 0 or max_speed <= 0 or success_threshold <= 0:
            raise ValueError(
                "control_dt, max_speed and success_threshold must be positive, got "
                f"{control_dt}, {max_speed}, {success_threshold}"
            )
        self.image_size = image_size
        self.success_threshold = success_threshold
        self.min_goal_distance = min_goal_distance
        self.render_mode = render_mode
        self.model = mujoco.MjModel.from_xml_string(_maze_xml(image_size, max_speed))
        self.data = mujoco.MjData(self.model)
        self.frame_skip = max(1, round(control_dt / self.model.opt.timestep))
        self._renderer = mujoco.Renderer(self.model, image_size, image_size)
        speed_bound = np.float32(4 * max_speed)  # walls bound |x|, |y| far more tightly
        self.observation_space = spaces.Dict(
            {
                "pixels": spaces.Box(0, 255, (image_size, image_size, 3), np.uint8),
                "proprio": spaces.Box(-speed_bound, speed_bound, (4,), np.float32),
            }
        )
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.goal = np.zeros(2)

    # -- sampling -----------------------------------------------------------------
    def sample_free_position(self) -> np.ndarray:
        """A uniform position (2,) in the free area, clear of walls, from ``np_random``."""
        lim = HALF_EXTENT - BALL_RADIUS
        while True:
            p = self.np_random.uniform(-lim, lim, size=2)
            if is_free(p):
                return p

    def _checked_position(self, value: Any, name: str) -> np.ndarray:
        p = np.asarray(value, dtype=np.float64)
        if p.shape != (2,) or not np.all(np.isfinite(p)):
            raise ValueError(f"options[{name!r}] must be a finite (x, y) pair, got {value!r}")
        if not is_free(p):
            raise ValueError(f"options[{name!r}] = {p.tolist()} is inside or touching a wall")
        return p

    # -- gymnasium API ------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        unknown = set(options) - {"start", "goal"}
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; known: 'start', 'goal'")
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
        goal_obs = self.observation_at(self.goal)
        self._set_state(start)
        obs = self._observation()
        return obs, {**self._info(), "goal_obs": goal_obs}

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (2,):
            raise ValueError(f"action must have shape (2,), got {action.shape}")
        self.data.ctrl[:] = np.clip(np.nan_to_num(action), -1.0, 1.0)
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        info = self._info()
        # Zero-shot planning uses no reward; -distance is given for RL baselines.
        return self._observation(), -info["distance"], False, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            return None
        return self._render()

    def close(self) -> None:
        self._renderer.close()

    # -- helpers ------------------------------------------------------------------
    def goal_observation(self) -> dict[str, np.ndarray]:
        """The observation the agent would see standing still at the goal."""
        return self.observation_at(self.goal)

    @property
    def position(self) -> np.ndarray:
        """Ball centre (2,)."""
        return self.data.qpos[:2].copy()

    def _set_state(self, position: np.ndarray) -> None:
        self.data.qpos[:] = position
        self.data.qvel[:] = 0.0
        self.data.ctrl[:] = 0.0
        mujoco.mj_forward(self.model, self.data)

    def observation_at(self, position: np.ndarray) -> dict[str, np.ndarray]:
        """The observation with the ball resting at ``position`` (2,); the state is restored."""
        saved = self.data.qpos.copy(), self.data.qvel.copy()
        self._set_state(position)
        obs = self._observation()
        self.data.qpos[:], self.data.qvel[:] = saved
        mujoco.mj_forward(self.model, self.data)
        return obs

    def _render(self) -> np.ndarray:
        self._renderer.update_scene(self.data, camera="top")
        return self._renderer.render().copy()

    def _observation(self) -> dict[str, np.ndarray]:
        proprio = np.concatenate([self.data.qpos[:2], self.data.qvel[:2]]).astype(np.float32)
        return {"pixels": self._render(), "proprio": proprio}

    def _info(self) -> dict[str, Any]:
        distance = float(np.linalg.norm(self.position - self.goal))
        return {
            "distance": distance,
            "success": distance < self.success_threshold,
            "goal": self.goal.copy(),
        }
