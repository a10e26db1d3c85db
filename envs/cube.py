"""A robot arm moving a cube to a goal position on a table (OGBench's visual-cube-single).

The reference task is OGBench's ``visual-cube-single`` (Park et al. 2024): a UR5e
arm with a Robotiq gripper under end-effector position control picks a cube and
places it at a goal; success when the cube is within 0.04 m of the goal. We
build an equivalent scene here in plain MuJoCo instead of depending on the
``ogbench`` package, which pulls in dm_control and its own rendering stack with
a fixed camera and resolution. What is kept: the pick-and-place task, Cartesian
end-effector control with a gripper command, goal = cube position, success within
0.04 m (3-D, so a cube held above the goal does not count), a goal image with the
arm in its home pose. What differs: a simpler arm (below), no gripper-yaw action
(OGBench's action is 5-D; here the fingers always close along the world y axis
and a squeeze holds a cube at any yaw), our own oblique camera (64 x 64 by
default, 16 to 224) and a 100-step budget (OGBench registers 200).

Scene (metres; the table top is z = 0, the arm base at the origin): a
five-joint arm -- base yaw, shoulder pitch, elbow pitch, wrist pitch, wrist
roll -- with joint position actuators and gravity compensation, ending in a
parallel two-finger gripper (two slide joints, force-limited position
actuators) that grasps a 4 cm cube (``CUBE_HALF`` = 0.02). Camera: fixed, 60
degrees down from the front (+x) looking back at the arm; it sees the whole
sampling region and the gripper at home (only the highest end-effector positions
nearest the camera leave the image). A light casts shadows, which show heights.

Action: (4,) float32 in [-1, 1]. ``action[:3]`` moves the end effector (the point
between the finger pads) by ``action[:3] * max_step`` (0.05 m by default) from
where it is, clipped to the workspace ``EFFECTOR_LOW``..``EFFECTOR_HIGH``;
``action[3]`` sets the gripper: -1 fully open (9 cm gap), +1 closed (1 cm gap,
squeezing with at most ``FINGER_FORCE`` per finger), linear in between. The
Cartesian target becomes joint targets through closed-form inverse kinematics
(:func:`arm_inverse_kinematics`): the arm is a yaw joint carrying a planar
three-link chain, so with the gripper held vertical and its yaw fixed the
solution is exact and unique (elbow up) -- no iterative damped least squares
needed. One control step lasts ``control_dt`` (0.1 s, i.e. 10 Hz; 50 physics
steps of 2 ms). ``wmplan/Cube-v0`` gives 100 control steps per episode.

Observation: ``{"pixels": (S, S, 3) uint8, "proprio": (4,) float32}`` with
proprio = (end-effector x, y, z, gripper opening); the opening is the gap
between the finger pads in metres (0.01 closed .. 0.09 open, 0.04 on the cube).

Start: the arm in its home pose (end effector at ``HOME_EFFECTOR``, gripper open)
and the cube resting on the table at a uniform position in ``CUBE_REGION`` with
a uniform yaw in [-pi/4, pi/4).

Goals: a cube position (x, y) on the table, uniform over ``CUBE_REGION``
(x in [0.3, 0.6], y in [-0.2, 0.2]) with ``env.np_random``, at least
``min_goal_distance`` (0.15 m) from the start. ``info["distance"]`` is the 3-D
distance from the cube centre to (x, y, ``CUBE_HALF``); the step reward is its
negative; the episode never terminates (the time limit comes from the
registration). ``info["success"]`` is ``distance < success_threshold`` (0.04 m,
as in OGBench). The goal image is the scene with the cube at the goal (yaw 0;
the yaw is not part of the goal) and the arm in the home pose, returned in the reset
``info["goal_obs"]`` and by :meth:`CubeEnv.goal_observation`. Benchmarks reset
with seeds >= 100000; data collection uses seeds below.

Reset options: ``"goal": (x, y)``; ``"start"``: a cube pose (x, y) or
(x, y, yaw), or a mapping ``{"cube": pose, "effector": (x, y, z)}`` that also
places the arm (gripper open; a missing key is sampled / home as above).
Positions must lie in ``TABLE_REGION`` (x in [0.25, 0.65], y in [-0.25, 0.25])
and the effector in the workspace; anything else raises ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mujoco
import numpy as np
from gymnasium import spaces

from envs.base import MujocoTaskEnv
from envs.cube_scene import (
    CUBE_HALF,
    EFFECTOR_HIGH,
    EFFECTOR_LOW,
    HOME_EFFECTOR,
    MAX_FINGER_TRAVEL,
    MIN_GAP,
    arm_inverse_kinematics,
    cube_scene_xml,
)
from envs.errors import EnvArgumentError, option_array

# (x_min, x_max, y_min, y_max): where starts and goals are sampled ...
CUBE_REGION = (0.3, 0.6, -0.2, 0.2)
# ... and where a start or goal given as an option may lie
TABLE_REGION = (0.25, 0.65, -0.25, 0.25)


def _in_region(xy: np.ndarray, region: tuple[float, float, float, float]) -> bool:
    x_min, x_max, y_min, y_max = region
    return bool(x_min <= xy[0] <= x_max and y_min <= xy[1] <= y_max)


class CubeEnv(MujocoTaskEnv):
    """Arm with a parallel gripper placing a cube at a goal position, oblique pixels.

    Observation: ``{"pixels": (S, S, 3) uint8, "proprio": (4,) float32}`` with
    proprio = (end-effector x, y, z, gripper opening). Action: (4,) float32 in
    [-1, 1]: end-effector displacement (x, y, z) in units of ``max_step`` and
    the gripper command (-1 open, +1 closed). See the module docstring.
    """

    camera = "front"

    def __init__(
        self,
        image_size: int = 64,
        control_dt: float = 0.1,
        max_step: float = 0.05,
        success_threshold: float = 0.04,
        min_goal_distance: float = 0.15,
        render_mode: str | None = "rgb_array",
    ) -> None:
        if not 0 <= min_goal_distance <= 0.2:
            # every start in the 0.3 x 0.4 m region has goals at least 0.25 m away
            raise ValueError(f"min_goal_distance must be in [0, 0.2] m, got {min_goal_distance}")
        self.max_step = max_step
        self.success_threshold = success_threshold
        self.min_goal_distance = min_goal_distance
        super().__init__(
            image_size=image_size,
            control_dt=control_dt,
            render_mode=render_mode,
            positive={"max_step": max_step, "success_threshold": success_threshold},
            action_dim=4,
        )
        self._effector_site = self.model.site("effector").id
        self._cube_qpos = self.model.joint("cube").qposadr[0]
        self._fingers = [self.model.joint(f"finger_{s}").qposadr[0] for s in ("left", "right")]
        self.goal = np.array([0.45, 0.0])

    def _scene_xml(self) -> str:
        return cube_scene_xml(self.image_size)

    def _proprio_space(self) -> spaces.Box:
        # the arm cannot reach beyond 1 m; the gap is within [0, 0.1]
        return spaces.Box(
            np.array([-1.0, -1.0, -1.0, 0.0], np.float32),
            np.array([1.0, 1.0, 1.0, 0.1], np.float32),
            (4,),
            np.float32,
        )

    # -- sampling and option checks ------------------------------------------------
    def sample_cube_position(self) -> np.ndarray:
        """A uniform position (2,) in ``CUBE_REGION`` from ``np_random``."""
        x_min, x_max, y_min, y_max = CUBE_REGION
        return self.np_random.uniform([x_min, y_min], [x_max, y_max])

    @staticmethod
    def _checked_xy(value: Any, name: str, lengths: tuple[int, ...] = (2,)) -> np.ndarray:
        shape = " or ".join({2: "(x, y)", 3: "(x, y, yaw)"}[n] for n in lengths)
        p = option_array(value, name, f"a finite {shape}")
        if p.ndim != 1 or len(p) not in lengths or not np.all(np.isfinite(p)):
            raise EnvArgumentError(f"{name} must be a finite {shape}, got {value!r}")
        if not _in_region(p[:2], TABLE_REGION):
            x_min, x_max, y_min, y_max = TABLE_REGION
            raise ValueError(
                f"{name} = {p[:2].tolist()} is off the table region "
                f"x in [{x_min}, {x_max}], y in [{y_min}, {y_max}]"
            )
        return p

    def _parse_start(self, value: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(cube pose (x, y, yaw) or None, effector (3,) or None) from options["start"]."""
        if not isinstance(value, Mapping):
            value = {"cube": value}
        unknown = set(value) - {"cube", "effector"}
        if unknown:
            raise ValueError(
                f"unknown keys {sorted(unknown)} in options['start']; known: 'cube', 'effector'"
            )
        cube = None
        if "cube" in value:
            pose = self._checked_xy(value["cube"], "options['start'] cube pose", (2, 3))
            cube = np.append(pose, 0.0) if len(pose) == 2 else pose
        effector = None
        if "effector" in value:
            effector = option_array(
                value["effector"], "options['start'] effector", "a finite (x, y, z)"
            )
            if effector.shape != (3,) or not np.all(np.isfinite(effector)):
                raise ValueError(
                    f"options['start'] effector must be a finite (x, y, z), got "
                    f"{value['effector']!r}"
                )
            if np.any(effector < EFFECTOR_LOW) or np.any(effector > EFFECTOR_HIGH):
                raise ValueError(
                    f"options['start'] effector = {effector.tolist()} is outside the workspace "
                    f"{EFFECTOR_LOW.tolist()} .. {EFFECTOR_HIGH.tolist()}"
                )
        return cube, effector

    def _sample_episode(self, options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        cube, effector = self._parse_start(options["start"]) if "start" in options else (None, None)
        if cube is None:
            yaw = self.np_random.uniform(-np.pi / 4, np.pi / 4)
            cube = np.append(self.sample_cube_position(), yaw)
        if effector is None:
            effector = HOME_EFFECTOR
        if "goal" in options:
            self.goal = self._checked_xy(options["goal"], "options['goal']")
        else:
            self.goal = self.sample_cube_position()
            while np.linalg.norm(self.goal - cube[:2]) < self.min_goal_distance:
                self.goal = self.sample_cube_position()
        return cube, effector

    def _actuate(self, action: np.ndarray) -> None:
        target = np.clip(
            self.effector_position + action[:3] * self.max_step, EFFECTOR_LOW, EFFECTOR_HIGH
        )
        self.data.ctrl[:5] = arm_inverse_kinematics(target)
        self.data.ctrl[5:] = MAX_FINGER_TRAVEL * (1.0 - action[3]) / 2

    # -- state --------------------------------------------------------------------
    @property
    def effector_position(self) -> np.ndarray:
        """Centre between the finger pads (3,)."""
        return self.data.site_xpos[self._effector_site].copy()

    @property
    def cube_position(self) -> np.ndarray:
        """Cube centre (3,)."""
        return self.data.qpos[self._cube_qpos : self._cube_qpos + 3].copy()

    @property
    def gripper_opening(self) -> float:
        """Gap between the finger pads in metres."""
        return MIN_GAP + float(self.data.qpos[self._fingers].sum())

    @property
    def goal_position(self) -> np.ndarray:
        """Where the cube centre should be (3,): the goal on the table."""
        return np.append(self.goal, CUBE_HALF)

    def task_state(self) -> np.ndarray:
        """Cube centre (x, y, z) and end effector (x, y, z) (6,)."""
        return np.concatenate([self.cube_position, self.effector_position]).astype(np.float32)

    def _place(self, data: mujoco.MjData, cube: np.ndarray, effector: np.ndarray) -> None:
        """Cube pose (x, y, yaw) resting on the table, arm still at ``effector``, gripper open."""
        joints = arm_inverse_kinematics(effector)
        data.qpos[:5] = joints
        data.qpos[self._fingers] = MAX_FINGER_TRAVEL
        x, y, yaw = cube
        data.qpos[self._cube_qpos : self._cube_qpos + 7] = [
            x, y, CUBE_HALF, np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)
        ]  # fmt: skip
        data.ctrl[:5] = joints
        data.ctrl[5:] = MAX_FINGER_TRAVEL

    def goal_state(self) -> tuple[np.ndarray, np.ndarray]:
        """The goal image: the cube at the goal (yaw 0), the arm at home, gripper open."""
        return np.append(self.goal, 0.0), HOME_EFFECTOR

    def _proprio(self, data: mujoco.MjData) -> np.ndarray:
        opening = MIN_GAP + data.qpos[self._fingers].sum()
        return np.append(data.site_xpos[self._effector_site], opening)

    def _goal_info(self) -> dict[str, Any]:
        distance = float(np.linalg.norm(self.cube_position - self.goal_position))
        return {"distance": distance, "success": distance < self.success_threshold}
