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

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from envs.rendering import MAX_IMAGE_SIZE, check_render_options  # sets MUJOCO_GL

CUBE_HALF = 0.02  # half side of the cube
CUBE_MASS = 0.05
# (x_min, x_max, y_min, y_max): where starts and goals are sampled ...
CUBE_REGION = (0.3, 0.6, -0.2, 0.2)
# ... and where a start or goal given as an option may lie
TABLE_REGION = (0.25, 0.65, -0.25, 0.25)

# Arm geometry: shoulder height, upper arm, forearm, wrist pitch axis to finger pads
SHOULDER_HEIGHT = 0.15
UPPER_ARM = 0.40
FOREARM = 0.40
HAND = 0.10
EFFECTOR_LOW = np.array([0.2, -0.27, 0.02])  # z = 0.02: pad centres at cube centre height
EFFECTOR_HIGH = np.array([0.67, 0.27, 0.28])
HOME_EFFECTOR = np.array([0.3, 0.0, 0.2])
MAX_FINGER_TRAVEL = 0.04  # per finger; the gap between the pads is 0.01 + both travels
MIN_GAP = 0.01
FINGER_FORCE = 20.0  # N, the most a finger squeezes with
# Joint stiffness (N m/rad) and damping (N m s/rad) of base yaw, shoulder, elbow,
# wrist pitch and roll: the arm covers a full 5 cm step within one control step.
ARM_KP = (500, 800, 300, 100, 100)
ARM_KV = (15, 20, 6, 2, 2)
# Stiff pad-cube contacts (time constant 5 ms): < 1 mm penetration, firm grasps
CONTACT_SOLREF = "0.005 1"


def arm_inverse_kinematics(effector: np.ndarray) -> np.ndarray:
    """Joint angles (5,) placing the finger-pad centre at ``effector`` (3,).

    The gripper points straight down and its fingers close along the world y
    axis. The base yaw turns the arm's vertical plane towards the target; in
    that plane the shoulder and elbow solve a two-link problem for the wrist
    (``HAND`` above the target), elbow up; the wrist pitch makes the three
    pitches sum to pi (hand down), and the wrist roll cancels the base yaw.
    Targets out of reach are pulled in to the nearest reachable wrist position.
    """
    x, y, z = (float(v) for v in effector)
    yaw = np.arctan2(y, x)
    # wrist in the arm plane, relative to the shoulder: (radial, height)
    radial, height = np.hypot(x, y), z + HAND - SHOULDER_HEIGHT
    reach = np.clip(np.hypot(radial, height), abs(UPPER_ARM - FOREARM) + 1e-6, UPPER_ARM + FOREARM)
    cos_elbow = (reach**2 - UPPER_ARM**2 - FOREARM**2) / (2 * UPPER_ARM * FOREARM)
    elbow = np.arccos(np.clip(cos_elbow, -1.0, 1.0))
    # pitch angles are measured from the vertical towards the target
    shoulder = np.arctan2(radial, height) - np.arctan2(
        FOREARM * np.sin(elbow), UPPER_ARM + FOREARM * np.cos(elbow)
    )
    wrist = np.pi - shoulder - elbow
    return np.array([yaw, shoulder, elbow, wrist, yaw])


def _look_at(position: np.ndarray, target: np.ndarray) -> str:
    """MuJoCo ``xyaxes`` of a camera at ``position`` looking at ``target``."""
    forward = (target - position) / np.linalg.norm(target - position)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return " ".join(f"{v:.6f}" for v in (*right, *up))


def _cube_xml(image_size: int) -> str:
    offscreen = max(image_size, MAX_IMAGE_SIZE)
    # 60 degrees down from the front (+x), looking back at the arm base
    target = np.array([0.44, 0.0, 0.06])
    camera_pos = target + 1.05 * np.array([np.cos(np.pi / 3), 0.0, np.sin(np.pi / 3)])
    camera_xyaxes = _look_at(camera_pos, target)
    arm = 'contype="0" conaffinity="0" density="300" rgba="0.62 0.64 0.68 1"'
    # pads and cube: high friction with torsional friction (condim 4), stiff contacts
    contact = f'condim="4" friction="1.2 0.01 0.0001" solref="{CONTACT_SOLREF}"'
    grip = f'{contact} rgba="0.18 0.18 0.20 1"'
    finger_kp = 1000.0
    return f"""
<mujoco model="cube">
  <option timestep="0.002" integrator="implicitfast" cone="elliptic" impratio="10"/>
  <visual>
    <global offwidth="{offscreen}" offheight="{offscreen}"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.35 0.35 0.35" specular="0 0 0"/>
    <quality shadowsize="512"/>
  </visual>
  <default>
    <joint damping="0.1" armature="0.002"/>
  </default>
  <worldbody>
    <light pos="0.4 0.2 1.5" dir="0 -0.1 -1" diffuse="0.5 0.5 0.5" castshadow="true"/>
    <camera name="front" pos="{camera_pos[0]} {camera_pos[1]} {camera_pos[2]}"
            xyaxes="{camera_xyaxes}" fovy="45"/>
    <geom name="table" type="box" pos="0.25 0 -0.02" size="0.8 0.7 0.02"
          rgba="0.78 0.70 0.58 1" friction="0.8 0.005 0.0001"/>
    <geom type="cylinder" pos="0 0 0.01" size="0.07 0.01" {arm}/>
    <body name="turret" gravcomp="1">
      <joint name="base_yaw" axis="0 0 1"/>
      <geom type="cylinder" fromto="0 0 0 0 0 {SHOULDER_HEIGHT}" size="0.045" {arm}/>
      <body name="upper_arm" pos="0 0 {SHOULDER_HEIGHT}" gravcomp="1">
        <joint name="shoulder" axis="0 1 0"/>
        <geom type="capsule" fromto="0 0 0 0 0 {UPPER_ARM}" size="0.03" {arm}/>
        <body name="forearm" pos="0 0 {UPPER_ARM}" gravcomp="1">
          <joint name="elbow" axis="0 1 0"/>
          <geom type="capsule" fromto="0 0 0 0 0 {FOREARM}" size="0.024" {arm}/>
          <body name="hand" pos="0 0 {FOREARM}" gravcomp="1">
            <joint name="wrist" axis="0 1 0"/>
            <geom type="cylinder" fromto="0 0 0 0 0 0.035" size="0.022" {arm}/>
            <body name="gripper" gravcomp="1">
              <joint name="wrist_roll" axis="0 0 1"/>
              <geom name="palm" type="box" pos="0 0 0.05" size="0.018 0.058 0.015" {grip}/>
              <site name="effector" pos="0 0 {HAND}" size="0.005" rgba="0 0 0 0"/>
              <body name="finger_left" pos="0 0.005 0" gravcomp="1">
                <joint name="finger_left" type="slide" axis="0 1 0"
                       range="0 {MAX_FINGER_TRAVEL}" damping="2"/>
                <geom name="pad_left" type="box" pos="0 0.005 0.09" size="0.014 0.005 0.025"
                      {grip}/>
              </body>
              <body name="finger_right" pos="0 -0.005 0" gravcomp="1">
                <joint name="finger_right" type="slide" axis="0 -1 0"
                       range="0 {MAX_FINGER_TRAVEL}" damping="2"/>
                <geom name="pad_right" type="box" pos="0 -0.005 0.09" size="0.014 0.005 0.025"
                      {grip}/>
              </body>
            </body>
          </body>
        </body>
      </body>
    </body>
    <body name="cube" pos="0.45 0 {CUBE_HALF}">
      <freejoint name="cube"/>
      <geom name="cube" type="box" size="{CUBE_HALF} {CUBE_HALF} {CUBE_HALF}" mass="{CUBE_MASS}"
            {contact} rgba="0.85 0.15 0.10 1"/>
    </body>
  </worldbody>
  <actuator>
    <position joint="base_yaw" kp="{ARM_KP[0]}" kv="{ARM_KV[0]}" ctrlrange="-3.2 3.2"/>
    <position joint="shoulder" kp="{ARM_KP[1]}" kv="{ARM_KV[1]}" ctrlrange="-3.2 3.2"/>
    <position joint="elbow" kp="{ARM_KP[2]}" kv="{ARM_KV[2]}" ctrlrange="-3.2 3.2"/>
    <position joint="wrist" kp="{ARM_KP[3]}" kv="{ARM_KV[3]}" ctrlrange="-6.4 6.4"/>
    <position joint="wrist_roll" kp="{ARM_KP[4]}" kv="{ARM_KV[4]}" ctrlrange="-3.2 3.2"/>
    <position joint="finger_left" kp="{finger_kp}" kv="20" ctrlrange="0 {MAX_FINGER_TRAVEL}"
              forcerange="-{FINGER_FORCE} {FINGER_FORCE}"/>
    <position joint="finger_right" kp="{finger_kp}" kv="20" ctrlrange="0 {MAX_FINGER_TRAVEL}"
              forcerange="-{FINGER_FORCE} {FINGER_FORCE}"/>
  </actuator>
</mujoco>"""


def _in_region(xy: np.ndarray, region: tuple[float, float, float, float]) -> bool:
    x_min, x_max, y_min, y_max = region
    return bool(x_min <= xy[0] <= x_max and y_min <= xy[1] <= y_max)


class CubeEnv(gym.Env):
    """Arm with a parallel gripper placing a cube at a goal position, oblique pixels.

    Observation: ``{"pixels": (S, S, 3) uint8, "proprio": (4,) float32}`` with
    proprio = (end-effector x, y, z, gripper opening). Action: (4,) float32 in
    [-1, 1]: end-effector displacement (x, y, z) in units of ``max_step`` and
    the gripper command (-1 open, +1 closed). See the module docstring.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        image_size: int = 64,
        control_dt: float = 0.1,
        max_step: float = 0.05,
        success_threshold: float = 0.04,
        min_goal_distance: float = 0.15,
        render_mode: str | None = "rgb_array",
    ) -> None:
        check_render_options(image_size, render_mode)
        if control_dt <= 0 or max_step <= 0 or success_threshold <= 0:
            raise ValueError(
                "control_dt, max_step and success_threshold must be positive, got "
                f"{control_dt}, {max_step}, {success_threshold}"
            )
        if not 0 <= min_goal_distance <= 0.2:
            # every start in the 0.3 x 0.4 m region has goals at least 0.25 m away
            raise ValueError(f"min_goal_distance must be in [0, 0.2] m, got {min_goal_distance}")
        self.image_size = image_size
        self.max_step = max_step
        self.success_threshold = success_threshold
        self.min_goal_distance = min_goal_distance
        self.render_mode = render_mode
        self.model = mujoco.MjModel.from_xml_string(_cube_xml(image_size))
        self.data = mujoco.MjData(self.model)
        self.frame_skip = max(1, round(control_dt / self.model.opt.timestep))
        self._renderer = mujoco.Renderer(self.model, image_size, image_size)
        self._effector_site = self.model.site("effector").id
        self._cube_qpos = self.model.joint("cube").qposadr[0]
        self._fingers = [self.model.joint(f"finger_{s}").qposadr[0] for s in ("left", "right")]
        # the goal image is rendered from its own MjData: the episode's is never touched
        self._goal_data = mujoco.MjData(self.model)
        self.observation_space = spaces.Dict(
            {
                "pixels": spaces.Box(0, 255, (image_size, image_size, 3), np.uint8),
                # the arm cannot reach beyond 1 m; the gap is within [0, 0.1]
                "proprio": spaces.Box(
                    np.array([-1.0, -1.0, -1.0, 0.0], np.float32),
                    np.array([1.0, 1.0, 1.0, 0.1], np.float32),
                    (4,),
                    np.float32,
                ),
            }
        )
        self.action_space = spaces.Box(-1.0, 1.0, (4,), np.float32)
        self.goal = np.array([0.45, 0.0])

    # -- sampling and option checks ------------------------------------------------
    def sample_cube_position(self) -> np.ndarray:
        """A uniform position (2,) in ``CUBE_REGION`` from ``np_random``."""
        x_min, x_max, y_min, y_max = CUBE_REGION
        return self.np_random.uniform([x_min, y_min], [x_max, y_max])

    @staticmethod
    def _checked_xy(value: Any, name: str, lengths: tuple[int, ...] = (2,)) -> np.ndarray:
        p = np.asarray(value, dtype=np.float64)
        if p.ndim != 1 or len(p) not in lengths or not np.all(np.isfinite(p)):
            shape = " or ".join({2: "(x, y)", 3: "(x, y, yaw)"}[n] for n in lengths)
            raise ValueError(f"{name} must be a finite {shape}, got {value!r}")
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
            effector = np.asarray(value["effector"], dtype=np.float64)
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

    # -- gymnasium API ------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        unknown = set(options) - {"start", "goal"}
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; known: 'start', 'goal'")
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
        mujoco.mj_resetData(self.model, self.data)
        self._set_state(self.data, cube, effector)
        return self._observation(self.data), {**self._info(), "goal_obs": self.goal_observation()}

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (4,):
            raise ValueError(f"action must have shape (4,), got {action.shape}")
        action = np.clip(np.nan_to_num(action), -1.0, 1.0)
        target = np.clip(
            self.effector_position + action[:3] * self.max_step, EFFECTOR_LOW, EFFECTOR_HIGH
        )
        self.data.ctrl[:5] = arm_inverse_kinematics(target)
        self.data.ctrl[5:] = MAX_FINGER_TRAVEL * (1.0 - action[3]) / 2
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        info = self._info()
        # Zero-shot planning uses no reward; -distance is given for RL baselines.
        return self._observation(self.data), -info["distance"], False, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            return None
        return self._render(self.data)

    def close(self) -> None:
        self._renderer.close()

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

    def _set_state(self, data: mujoco.MjData, cube: np.ndarray, effector: np.ndarray) -> None:
        """Cube pose (x, y, yaw) resting on the table, arm still at ``effector``, gripper open."""
        joints = arm_inverse_kinematics(effector)
        data.qpos[:5] = joints
        data.qpos[self._fingers] = MAX_FINGER_TRAVEL
        x, y, yaw = cube
        data.qpos[self._cube_qpos : self._cube_qpos + 7] = [
            x, y, CUBE_HALF, np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)
        ]  # fmt: skip
        data.qvel[:] = 0.0
        data.ctrl[:5] = joints
        data.ctrl[5:] = MAX_FINGER_TRAVEL
        mujoco.mj_forward(self.model, data)

    # -- observations -------------------------------------------------------------
    def goal_observation(self) -> dict[str, np.ndarray]:
        """The observation with the cube at the goal (yaw 0) and the arm at home, gripper open."""
        self._set_state(self._goal_data, np.append(self.goal, 0.0), HOME_EFFECTOR)
        return self._observation(self._goal_data)

    def _render(self, data: mujoco.MjData) -> np.ndarray:
        self._renderer.update_scene(data, camera="front")
        return self._renderer.render().copy()

    def _observation(self, data: mujoco.MjData) -> dict[str, np.ndarray]:
        effector = data.site_xpos[self._effector_site]
        opening = MIN_GAP + data.qpos[self._fingers].sum()
        proprio = np.append(effector, opening).astype(np.float32)
        return {"pixels": self._render(data), "proprio": proprio}

    def _info(self) -> dict[str, Any]:
        distance = float(np.linalg.norm(self.cube_position - self.goal_position))
        return {
            "distance": distance,
            "success": distance < self.success_threshold,
            "goal": self.goal.copy(),
        }
