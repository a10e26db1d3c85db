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

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from envs.rendering import MAX_IMAGE_SIZE, check_render_options  # sets MUJOCO_GL

BALL_RADIUS = 0.12
HALF_EXTENT = 1.5  # free area is [-1.5, 1.5]^2
WALL_HALF_THICKNESS = 0.1  # the dividing wall covers x in [-0.1, 0.1]
VIEW_EXTENT = 1.6  # the camera sees [-1.6, 1.6]^2: the free area and a rim of wall
RIM = 0.3  # thickness of the outer walls


def wall_boxes(door_center: float, door_width: float) -> list[tuple[float, float, float, float]]:
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


def _wall_xml(image_size: int, max_speed: float, boxes: list[tuple]) -> str:
    damping = 20.0  # N s/m on a 1 kg ball: velocity settles in ~0.05 s
    gear = max_speed * damping
    walls = "\n".join(
        f'<geom type="box" pos="{(x0 + x1) / 2} {(y0 + y1) / 2} 0.15" '
        f'size="{(x1 - x0) / 2} {(y1 - y0) / 2} 0.15" condim="1" rgba="0.20 0.28 0.45 1"/>'
        for x0, x1, y0, y1 in boxes
    )
    offscreen = max(image_size, MAX_IMAGE_SIZE)
    return f"""
<mujoco model="wall">
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
      <geom type="sphere" size="{BALL_RADIUS}" mass="1" condim="1" rgba="0.10 0.60 0.20 1"/>
    </body>
  </worldbody>
  <actuator>
    <motor joint="x" gear="{gear}" ctrlrange="-1 1" ctrllimited="true"/>
    <motor joint="y" gear="{gear}" ctrlrange="-1 1" ctrllimited="true"/>
  </actuator>
</mujoco>"""


class WallEnv(gym.Env):
    """Point agent in two rooms split by a wall with one door; top-down pixels and proprio.

    Observation: ``{"pixels": (S, S, 3) uint8, "proprio": (4,) float32}`` with
    proprio = (x, y, vx, vy). Action: (2,) float32 force in [-1, 1].
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

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
        check_render_options(image_size, render_mode)
        if control_dt <= 0 or max_speed <= 0 or success_threshold <= 0:
            raise ValueError(
                "control_dt, max_speed and success_threshold must be positive, got "
                f"{control_dt}, {max_speed}, {success_threshold}"
            )
        if door_width <= 2 * BALL_RADIUS:
            raise ValueError(f"door_width must exceed the ball diameter {2 * BALL_RADIUS}")
        if abs(door_center) + door_width / 2 > HALF_EXTENT:
            raise ValueError(
                f"the door (door_center {door_center} +- door_width/2 {door_width / 2}) "
                f"must lie within [-{HALF_EXTENT}, {HALF_EXTENT}]"
            )
        self.image_size = image_size
        self.control_dt = control_dt
        self.max_speed = max_speed
        self.success_threshold = success_threshold
        self.door_center = door_center
        self.door_width = door_width
        self.render_mode = render_mode
        self.walls = wall_boxes(door_center, door_width)
        self.model = mujoco.MjModel.from_xml_string(_wall_xml(image_size, max_speed, self.walls))
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

    # -- geometry and sampling ----------------------------------------------------
    def is_free(self, position: np.ndarray, margin: float = BALL_RADIUS) -> bool:
        """Whether a ball centred at ``position`` (2,) with radius ``margin`` touches no wall."""
        x, y = float(position[0]), float(position[1])
        return not any(
            x0 - margin < x < x1 + margin and y0 - margin < y < y1 + margin
            for x0, x1, y0, y1 in self.walls
        )

    def sample_in_room(self, side: int) -> np.ndarray:
        """A uniform free position (2,) in the left (``side`` -1) or right (+1) room."""
        inner, outer = WALL_HALF_THICKNESS + BALL_RADIUS, HALF_EXTENT - BALL_RADIUS
        x = side * self.np_random.uniform(inner, outer)
        y = self.np_random.uniform(-outer, outer)
        return np.array([x, y])

    def _checked_position(self, value: Any, name: str) -> np.ndarray:
        p = np.asarray(value, dtype=np.float64)
        if p.shape != (2,) or not np.all(np.isfinite(p)):
            raise ValueError(f"options[{name!r}] must be a finite (x, y) pair, got {value!r}")
        if not self.is_free(p):
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
        goal_obs = self.observation_at(self.goal)
        self._set_state(start)
        return self._observation(), {**self._info(), "goal_obs": goal_obs}

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
