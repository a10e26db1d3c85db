"""Push a T-shaped block to a goal pose with a round pusher, seen from above.

DINO-WM's (and Diffusion Policy's) Push-T task rebuilt in MuJoCo, in table
units: the table is the square [-1, 1]^2 enclosed by walls (Push-T's 512 px
workspace is 2 units here, so 1 px = 1/256 unit). The T has a bar of 0.48 x 0.12
on top of a stem of 0.12 x 0.36 (Push-T's 120 x 30 and 30 x 90 px at this
scale); the pusher is a ball of radius 0.06 (Push-T's 15 px).

Block pose: ``(x, y, theta)`` of the T's centre of mass, which lies on the
stem's axis 0.043 below the bar; ``theta = 0`` is the upright T (bar towards
+y, stem pointing to -y), counter-clockwise positive, wrapped to [-pi, pi).

Dynamics: the block moves on planar joints (slide x, slide y, hinge z about its
centre of mass) with viscous damping matched to a uniform pressure on the table
(rotational damping = linear damping x the T's polar moment per unit area) and a
small dry friction, so it slides and turns when pushed and comes to rest within
about 0.05 s when not. Contacts are frictionless (the pusher slides along the
block's edges; the block slides along the walls). Physics step 5 ms: at full
speed the pusher moves 0.005 per step against a 0.12-thick block, so nothing
tunnels.

Action: (2,) float32 in [-1, 1]^2, the pusher's velocity command per axis as a
fraction of ``max_speed`` (1.0 unit/s by default). A stiff velocity servo on
each of the pusher's slide joints tracks it within a few milliseconds (about 10%
slower while pushing the block). One control step lasts ``control_dt`` (0.1 s,
i.e. 10 Hz, as in Push-T), so a step moves the pusher at most 0.1 per axis.
The registered id ``wmplan/PushT-v0`` has a budget of 100 control steps (10 s).

Observation: ``{"pixels": (S, S, 3) uint8, "proprio": (4,) float32}``; pixels
from an orthographic camera straight above the table covering
[-1.05, 1.05]^2 (the table and the walls' inner rim); proprio = pusher
(x, y, vx, vy). The block pose is not in the proprio (as in DINO-WM): it is seen.

Success: the block's position error is below ``success_position_threshold``
(0.08 units, DINO-WM's 20 px) AND its angle error is below
``success_angle_threshold`` (pi/9, as in DINO-WM). Step reward is
``-(position_error + ANGLE_WEIGHT * angle_error)`` (the reset ``info["distance"]``
and each step's); the episode never terminates (time limit via registration).

Goals: ``reset(options={"start": ..., "goal": ...})``.
``"start"`` is a block pose ``(x, y, theta)`` or ``(x, y, theta, px, py)`` with
the pusher's start position; ``"goal"`` is a block pose ``(x, y, theta)`` or
``(x, y, theta, px, py)`` with the pusher's position in the goal image. Missing
parts are sampled with ``env.np_random``: the start block centre uniform in
[-0.4, 0.4]^2 with a uniform angle; the pusher uniform in [-0.85, 0.85]^2 at
least 0.05 clear of the block; the goal as the start pose shifted by a distance
uniform in ``GOAL_SHIFT_RANGE`` (0.15 to 0.3) in a uniform direction (kept
within [-0.5, 0.5]^2; a given start whose shift cannot land there gets the
square's nearest point) and turned by an angle uniform in +-``GOAL_TURN_RANGE``
(pi/3), so the goal is never already reached and the scripted expert
(:class:`envs.experts.push_t.PushTExpert`) reaches most goals within the budget.
Benchmarks reset with seeds >= 100000; data collection uses seeds below.

Goal image: the scene with the block resting at the goal pose and the pusher at
the goal's pusher position, by default the table corner (+-0.8, +-0.8) farthest
from the goal block's centre (neutral: never touching the block). It is returned
in the reset ``info["goal_obs"]`` and by :meth:`PushTEnv.goal_observation`.
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from gymnasium import spaces

from envs.base import MujocoTaskEnv
from envs.errors import option_array
from envs.geometry import wrap_angle
from envs.push_t_block import (
    BLOCK_CENTRES,
    BLOCK_GYRATION_SQ,
    BLOCK_HALF_SIZES,
    TABLE_HALF_EXTENT,
    block_inside_table,
    distance_to_block,
)
from envs.rendering import top_camera_xml, visual_xml

VIEW_EXTENT = 1.05  # the camera sees [-1.05, 1.05]^2
PUSHER_RADIUS = 0.06
HEIGHT = 0.06  # z of the block's and the pusher's centres (the block is 2 * 0.05 thick)
BLOCK_MASS = 0.2  # kg
LINEAR_DAMPING = 8.0  # N s/m on the block: velocity decays with a 0.025 s time constant
LINEAR_FRICTION = 0.1  # N, dry friction holding the block still when not pushed
START_HALF_EXTENT = 0.4  # start block centres in [-0.4, 0.4]^2
GOAL_HALF_EXTENT = 0.5  # sampled goal block centres in [-0.5, 0.5]^2
PUSHER_HALF_EXTENT = 0.85  # sampled pusher starts in [-0.85, 0.85]^2
PUSHER_CLEARANCE = 0.05  # sampled pusher starts at least this far from the block
GOAL_SHIFT_RANGE = (0.15, 0.3)
GOAL_TURN_RANGE = np.pi / 3
GOAL_PUSHER_CORNER = 0.8  # default goal-image pusher: the farthest corner (+-0.8, +-0.8)
ANGLE_WEIGHT = 0.2  # units per radian in the reward's pose distance


def pose_distance(pose: np.ndarray, goal: np.ndarray) -> float:
    """The reward's distance between block poses (3,): position error + ``ANGLE_WEIGHT`` x
    the wrapped angle error (``info["distance"]``)."""
    angle_error = abs(wrap_angle(pose[2] - goal[2]))
    return float(np.linalg.norm(pose[:2] - goal[:2]) + ANGLE_WEIGHT * angle_error)


def _push_t_xml(image_size: int, max_speed: float) -> str:
    rot_damping = LINEAR_DAMPING * BLOCK_GYRATION_SQ
    rot_friction = LINEAR_FRICTION * np.sqrt(BLOCK_GYRATION_SQ)
    geom_masses = (
        BLOCK_MASS * np.prod(BLOCK_HALF_SIZES, axis=1) / np.prod(BLOCK_HALF_SIZES, 1).sum()
    )
    block_geoms = "\n".join(
        f'<geom type="box" pos="{cx} {cy} 0" size="{w} {h} 0.05" mass="{m}" '
        'rgba="0.47 0.53 0.60 1"/>'
        for (cx, cy), (w, h), m in zip(BLOCK_CENTRES, BLOCK_HALF_SIZES, geom_masses, strict=True)
    )
    wall_t, e = 0.1, TABLE_HALF_EXTENT
    walls = "\n".join(
        f'<geom type="box" pos="{x} {y} {HEIGHT}" size="{sx} {sy} 0.1" rgba="0.30 0.30 0.32 1"/>'
        for x, y, sx, sy in [
            (e + wall_t, 0, wall_t, e + 2 * wall_t),
            (-e - wall_t, 0, wall_t, e + 2 * wall_t),
            (0, e + wall_t, e + 2 * wall_t, wall_t),
            (0, -e - wall_t, e + 2 * wall_t, wall_t),
        ]
    )
    servo_gain = 50.0  # N s/m on a 0.2 kg pusher: 4 ms time constant
    return f"""
<mujoco model="push_t">
  <option timestep="0.005" gravity="0 0 0" integrator="implicitfast"/>
  <default>
    <geom condim="1"/>
  </default>
  {visual_xml(image_size, ambient=0.7, diffuse=0.3)}
  <worldbody>
    {top_camera_xml(3, VIEW_EXTENT)}
    <geom type="plane" size="2 2 0.1" rgba="0.95 0.95 0.93 1" contype="0" conaffinity="0"/>
    {walls}
    <body name="block" pos="0 0 {HEIGHT}">
      <joint name="block_x" type="slide" axis="1 0 0" damping="{LINEAR_DAMPING}"
             frictionloss="{LINEAR_FRICTION}"/>
      <joint name="block_y" type="slide" axis="0 1 0" damping="{LINEAR_DAMPING}"
             frictionloss="{LINEAR_FRICTION}"/>
      <joint name="block_theta" type="hinge" axis="0 0 1" damping="{rot_damping}"
             frictionloss="{rot_friction}"/>
      {block_geoms}
    </body>
    <body name="pusher" pos="0 0 {HEIGHT}">
      <joint name="pusher_x" type="slide" axis="1 0 0"/>
      <joint name="pusher_y" type="slide" axis="0 1 0"/>
      <geom type="sphere" size="{PUSHER_RADIUS}" mass="0.2" rgba="0.25 0.41 0.88 1"/>
    </body>
  </worldbody>
  <actuator>
    <velocity joint="pusher_x" kv="{servo_gain}" ctrlrange="{-max_speed} {max_speed}"
              forcerange="-20 20"/>
    <velocity joint="pusher_y" kv="{servo_gain}" ctrlrange="{-max_speed} {max_speed}"
              forcerange="-20 20"/>
  </actuator>
</mujoco>"""


class PushTEnv(MujocoTaskEnv):
    """Push-T with top-down pixels and the pusher's proprioception (see the module docstring).

    Observation: ``{"pixels": (S, S, 3) uint8, "proprio": (4,) float32}`` with
    proprio = pusher (x, y, vx, vy). Action: (2,) float32 pusher velocity
    command in [-1, 1] (fraction of ``max_speed`` per axis).
    """

    def __init__(
        self,
        image_size: int = 64,
        control_dt: float = 0.1,
        max_speed: float = 1.0,
        success_position_threshold: float = 0.08,
        success_angle_threshold: float = np.pi / 9,
        render_mode: str | None = "rgb_array",
    ) -> None:
        self.max_speed = max_speed
        self.success_position_threshold = success_position_threshold
        self.success_angle_threshold = success_angle_threshold
        super().__init__(
            image_size=image_size,
            control_dt=control_dt,
            render_mode=render_mode,
            positive={
                "max_speed": max_speed,
                "success_position_threshold": success_position_threshold,
                "success_angle_threshold": success_angle_threshold,
            },
            action_dim=2,
        )
        self.goal = np.zeros(3)
        self.goal_pusher = np.full(2, GOAL_PUSHER_CORNER)

    def _scene_xml(self) -> str:
        return _push_t_xml(self.image_size, self.max_speed)

    def _proprio_space(self) -> spaces.Box:
        bound = np.float32(2 * VIEW_EXTENT + 4 * self.max_speed)  # walls bound positions tighter
        return spaces.Box(-bound, bound, (4,), np.float32)

    # -- sampling -----------------------------------------------------------------
    def sample_start(self) -> np.ndarray:
        """A start block pose (3,): centre uniform in [-0.4, 0.4]^2, angle uniform."""
        centre = self.np_random.uniform(-START_HALF_EXTENT, START_HALF_EXTENT, size=2)
        return np.array([*centre, self.np_random.uniform(-np.pi, np.pi)])

    def sample_goal(self, start: np.ndarray) -> np.ndarray:
        """A goal block pose (3,): ``start`` shifted and turned within the documented ranges."""
        distance = self.np_random.uniform(*GOAL_SHIFT_RANGE)
        turn = self.np_random.uniform(-GOAL_TURN_RANGE, GOAL_TURN_RANGE)
        # a given start far out may have no goal area within reach: take its nearest point
        centre = np.clip(start[:2], -GOAL_HALF_EXTENT, GOAL_HALF_EXTENT)
        for _ in range(1000):
            direction = self.np_random.uniform(-np.pi, np.pi)
            shifted = start[:2] + distance * np.array([np.cos(direction), np.sin(direction)])
            if np.all(np.abs(shifted) <= GOAL_HALF_EXTENT):
                centre = shifted
                break
        return np.array([*centre, wrap_angle(start[2] + turn)])

    def sample_pusher(self, block_pose: np.ndarray) -> np.ndarray:
        """A pusher position (2,) uniform in [-0.85, 0.85]^2, clear of the block."""
        while True:
            p = self.np_random.uniform(-PUSHER_HALF_EXTENT, PUSHER_HALF_EXTENT, size=2)
            if distance_to_block(p, block_pose) >= PUSHER_RADIUS + PUSHER_CLEARANCE:
                return p

    def _checked_pose(self, value: Any, name: str) -> tuple[np.ndarray, np.ndarray | None]:
        expected = "a finite block pose (x, y, theta) or (x, y, theta, pusher_x, pusher_y)"
        v = option_array(value, f"options[{name!r}]", expected)
        if v.shape not in ((3,), (5,)) or not np.all(np.isfinite(v)):
            raise ValueError(
                f"options[{name!r}] must be a finite block pose (x, y, theta) or "
                f"(x, y, theta, pusher_x, pusher_y), got {value!r}"
            )
        pose = np.array([v[0], v[1], wrap_angle(v[2])])
        if not block_inside_table(pose):
            raise ValueError(f"options[{name!r}]: the block at {pose.tolist()} crosses the walls")
        if v.shape == (3,):
            return pose, None
        pusher = v[3:]
        if np.any(np.abs(pusher) > TABLE_HALF_EXTENT - PUSHER_RADIUS):
            raise ValueError(f"options[{name!r}]: the pusher at {pusher.tolist()} is in a wall")
        if distance_to_block(pusher, pose) < PUSHER_RADIUS:
            raise ValueError(
                f"options[{name!r}]: the pusher at {pusher.tolist()} overlaps the block"
            )
        return pose, pusher

    def _sample_episode(self, options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        start, pusher = (
            self._checked_pose(options["start"], "start")
            if "start" in options
            else (self.sample_start(), None)
        )
        if pusher is None:
            pusher = self.sample_pusher(start)
        goal, goal_pusher = (
            self._checked_pose(options["goal"], "goal")
            if "goal" in options
            else (self.sample_goal(start), None)
        )
        if goal_pusher is None:
            corners = GOAL_PUSHER_CORNER * np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]])
            goal_pusher = corners[np.argmax(np.linalg.norm(corners - goal[:2], axis=1))]
        self.goal, self.goal_pusher = goal, goal_pusher.astype(np.float64)
        return start, pusher

    def _actuate(self, action: np.ndarray) -> None:
        self.data.ctrl[:] = self.max_speed * action

    # -- state --------------------------------------------------------------------
    @property
    def block_pose(self) -> np.ndarray:
        """The block's pose (3,): centre of mass (x, y) and angle theta in [-pi, pi)."""
        x, y, theta = self.data.qpos[:3]
        return np.array([x, y, wrap_angle(theta)])

    @property
    def block_velocity(self) -> np.ndarray:
        """The block's velocity (3,): (vx, vy, omega)."""
        return self.data.qvel[:3].copy()

    @property
    def pusher_position(self) -> np.ndarray:
        """The pusher's centre (2,)."""
        return self.data.qpos[3:5].copy()

    def task_state(self) -> np.ndarray:
        """Block (x, y, cos theta, sin theta) and pusher (x, y) (6,)."""
        x, y, theta = self.block_pose
        return np.array([x, y, np.cos(theta), np.sin(theta), *self.pusher_position], np.float32)

    def _place(self, data: mujoco.MjData, block_pose: np.ndarray, pusher: np.ndarray) -> None:
        data.qpos[:] = [*block_pose, *pusher]

    def goal_state(self) -> tuple[np.ndarray, np.ndarray]:
        """The goal image: block at the goal pose, pusher at the goal's pusher position."""
        return self.goal, self.goal_pusher

    def _proprio(self, data: mujoco.MjData) -> np.ndarray:
        return np.concatenate([data.qpos[3:5], data.qvel[3:5]])

    # -- goal ---------------------------------------------------------------------
    def pose_errors(self) -> tuple[float, float]:
        """Position error (units) and absolute angle error (radians) of the block to the goal."""
        pose = self.block_pose
        return (
            float(np.linalg.norm(pose[:2] - self.goal[:2])),
            float(abs(wrap_angle(pose[2] - self.goal[2]))),
        )

    def _goal_info(self) -> dict[str, Any]:
        position_error, angle_error = self.pose_errors()
        return {
            "distance": pose_distance(self.block_pose, self.goal),
            "position_error": position_error,
            "angle_error": angle_error,
            "success": bool(
                position_error < self.success_position_threshold
                and angle_error < self.success_angle_threshold
            ),
            "block_pose": self.block_pose,
        }
