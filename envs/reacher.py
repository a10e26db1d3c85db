"""A two-link planar arm seen from above, reaching a goal configuration shown as an image.

Origin: DINO-WM's Reacher task (Zhou et al. 2024, "DINO-WM: World Models on
Pre-trained Visual Features enable Zero-shot Planning"), which uses the
DeepMind Control Suite reacher (Tassa et al. 2018). Unlike DMC, no target is
drawn: the goal is a CONFIGURATION, given only as the image of the arm at the
goal joint angles, so every goal cue comes from the goal image.

Arm: a shoulder hinge at the origin (unlimited) and an elbow hinge (limited to
+-``ELBOW_LIMIT`` = 2.8 rad, as DMC's wrist), links of length 0.9 and 0.6 in
the horizontal plane, no gravity and no collisions. Angles are in radians,
counter-clockwise; q = (0, 0) is the arm stretched along +x.

Control: ``action`` in [-1, 1]^2 drives a motor on each heavily damped joint,
so a joint's angular velocity settles within a few hundredths of a second to
``action * max_speed`` (4 rad/s): velocity control in effect. Values outside
[-1, 1] are clipped. One control step lasts ``control_dt`` seconds (0.25 by
default, i.e. 4 Hz), so a step turns each joint by at most about 1 rad. The
registered episode budget is 50 steps; the expert needs at most about 7.

Observation: ``{"pixels": (S, S, 3) uint8, "proprio": (6,) float32}`` with
proprio = (cos q1, sin q1, cos q2, sin q2, dq1, dq2): the angles enter as
cos/sin so proprio is continuous as the shoulder turns round.

Goals: ``reset`` samples the start and the goal uniformly over the joint
ranges (shoulder in [-pi, pi), elbow in [-2.8, 2.8]) with ``env.np_random``,
the goal at least ``min_goal_distance`` (1 rad) from the start in the error
below. ``reset(options={"start": (q1, q2), "goal": (q1, q2)})`` places either
or both (q1 any finite angle, q2 within the elbow range). The goal image is the
arm rendered at rest at the goal angles, in the reset ``info["goal_obs"]`` and
from :meth:`ReacherEnv.goal_observation`.

Success: the joint-angle error, each angle difference wrapped to [-pi, pi)
(the image is 2*pi-periodic in each angle, so the wrap is what the image can
tell apart), has Euclidean norm below ``success_threshold`` (0.2 rad; at the
default 64x64 it moves the fingertip by 2 to 6 pixels). ``info["distance"]``
is that norm.
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from gymnasium import spaces

from envs.base import MujocoTaskEnv
from envs.errors import EnvArgumentError, option_array
from envs.geometry import wrap_angle
from envs.rendering import motors_xml, top_camera_xml, visual_xml

UPPER_LENGTH = 0.9
LOWER_LENGTH = 0.6
ELBOW_LIMIT = 2.8  # rad
VIEW_EXTENT = 1.6  # the camera sees [-1.6, 1.6]^2; the arm reaches 1.5


def _reacher_xml(image_size: int, max_speed: float) -> str:
    damping = 5.0  # N m s/rad on links of ~0.1 kg m^2: velocity settles in ~0.03 s
    gear = max_speed * damping
    return f"""
<mujoco model="reacher">
  <compiler angle="radian"/>
  <option timestep="0.01" gravity="0 0 0"/>
  {visual_xml(image_size, ambient=0.6, diffuse=0.4)}
  <default>
    <geom contype="0" conaffinity="0"/>
  </default>
  <worldbody>
    {top_camera_xml(4, VIEW_EXTENT)}
    <geom type="plane" size="3 3 0.1" rgba="0.85 0.85 0.80 1"/>
    <geom type="cylinder" size="0.14 0.02" rgba="0.25 0.25 0.25 1"/>
    <body name="upper" pos="0 0 0.1">
      <joint name="shoulder" type="hinge" axis="0 0 1" damping="{damping}"/>
      <geom type="capsule" fromto="0 0 0 {UPPER_LENGTH} 0 0" size="0.07" mass="0.2"
            rgba="0.20 0.35 0.75 1"/>
      <body name="lower" pos="{UPPER_LENGTH} 0 0.05">
        <joint name="elbow" type="hinge" axis="0 0 1" damping="{damping}" limited="true"
               range="{-ELBOW_LIMIT} {ELBOW_LIMIT}"/>
        <geom type="capsule" fromto="0 0 0 {LOWER_LENGTH} 0 0" size="0.06" mass="0.1"
              rgba="0.90 0.55 0.10 1"/>
        <geom type="sphere" pos="{LOWER_LENGTH} 0 0.02" size="0.08" mass="0.01"
              rgba="0.80 0.10 0.10 1"/>
      </body>
    </body>
  </worldbody>
  {motors_xml(("shoulder", "elbow"), gear)}
</mujoco>"""


class ReacherEnv(MujocoTaskEnv):
    """Two-link planar arm reaching a goal configuration given as an image.

    Observation: ``{"pixels": (S, S, 3) uint8, "proprio": (6,) float32}`` with
    proprio = (cos q1, sin q1, cos q2, sin q2, dq1, dq2). Action: (2,) float32
    joint velocity commands in [-1, 1] (times ``max_speed`` rad/s).
    """

    def __init__(
        self,
        image_size: int = 64,
        control_dt: float = 0.25,
        max_speed: float = 4.0,
        success_threshold: float = 0.2,
        min_goal_distance: float = 1.0,
        render_mode: str | None = "rgb_array",
    ) -> None:
        if not 0 <= min_goal_distance < 3.0:
            raise ValueError(f"min_goal_distance must be in [0, 3) rad, got {min_goal_distance}")
        self.max_speed = max_speed
        self.success_threshold = success_threshold
        self.min_goal_distance = min_goal_distance
        super().__init__(
            image_size=image_size,
            control_dt=control_dt,
            render_mode=render_mode,
            positive={"max_speed": max_speed, "success_threshold": success_threshold},
            action_dim=2,
        )
        self.goal = np.zeros(2)

    def _scene_xml(self) -> str:
        return _reacher_xml(self.image_size, self.max_speed)

    def _proprio_space(self) -> spaces.Box:
        speed_bound = np.float32(4 * self.max_speed)
        proprio_high = np.array([1, 1, 1, 1, speed_bound, speed_bound], np.float32)
        return spaces.Box(-proprio_high, proprio_high, (6,), np.float32)

    # -- sampling -----------------------------------------------------------------
    def sample_angles(self) -> np.ndarray:
        """Uniform joint angles (2,) over the shoulder circle and the elbow range."""
        return np.array(
            [
                self.np_random.uniform(-np.pi, np.pi),
                self.np_random.uniform(-ELBOW_LIMIT, ELBOW_LIMIT),
            ]
        )

    def angle_error(self, angles: np.ndarray, goal: np.ndarray) -> float:
        """Norm of the wrapped joint-angle difference (rad) between two configurations."""
        return float(np.linalg.norm(wrap_angle(np.asarray(goal) - np.asarray(angles))))

    def _checked_angles(self, value: Any, name: str) -> np.ndarray:
        q = option_array(value, f"options[{name!r}]", "a finite (q1, q2) pair")
        if q.shape != (2,) or not np.all(np.isfinite(q)):
            raise EnvArgumentError(
                f"options[{name!r}] must be a finite (q1, q2) pair, got {value!r}"
            )
        if abs(q[1]) > ELBOW_LIMIT:
            raise EnvArgumentError(
                f"options[{name!r}] elbow angle {q[1]} is outside [-{ELBOW_LIMIT}, {ELBOW_LIMIT}]"
            )
        return np.array([wrap_angle(q[0]), q[1]])

    def _sample_episode(self, options: dict[str, Any]) -> tuple[np.ndarray]:
        start = (
            self._checked_angles(options["start"], "start")
            if "start" in options
            else self.sample_angles()
        )
        if "goal" in options:
            self.goal = self._checked_angles(options["goal"], "goal")
        else:
            self.goal = self.sample_angles()
            while self.angle_error(start, self.goal) < self.min_goal_distance:
                self.goal = self.sample_angles()
        return (start,)

    # -- state --------------------------------------------------------------------
    @property
    def angles(self) -> np.ndarray:
        """Joint angles (q1, q2) (2,), the shoulder wrapped to [-pi, pi)."""
        return np.array([wrap_angle(self.data.qpos[0]), self.data.qpos[1]])

    @property
    def fingertip(self) -> np.ndarray:
        """Fingertip position (2,) in the plane."""
        q1, q2 = self.data.qpos[:2]
        elbow = UPPER_LENGTH * np.array([np.cos(q1), np.sin(q1)])
        return elbow + LOWER_LENGTH * np.array([np.cos(q1 + q2), np.sin(q1 + q2)])

    def task_state(self) -> np.ndarray:
        """The joint angles as (cos q1, sin q1, q2) (3,): the elbow never wraps (+-2.8 rad)."""
        q1, q2 = self.data.qpos[:2]
        return np.array([np.cos(q1), np.sin(q1), q2], np.float32)

    def _place(self, data: mujoco.MjData, angles: np.ndarray) -> None:
        data.qpos[:] = angles

    def goal_state(self) -> tuple[np.ndarray]:
        """The goal image shows the arm resting at the goal angles."""
        return (self.goal,)

    def _proprio(self, data: mujoco.MjData) -> np.ndarray:
        q, dq = data.qpos[:2], data.qvel[:2]
        return np.concatenate([np.cos(q[:1]), np.sin(q[:1]), np.cos(q[1:]), np.sin(q[1:]), dq])

    def _goal_info(self) -> dict[str, Any]:
        distance = self.angle_error(self.data.qpos[:2], self.goal)
        return {"distance": distance, "success": distance < self.success_threshold}
