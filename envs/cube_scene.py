"""The Cube task's scene: a five-joint arm with a parallel gripper, a table and a cube.

Metres; the table top is z = 0, the arm base at the origin. The arm is a base
yaw joint carrying a planar chain (shoulder, elbow and wrist pitch) and a wrist
roll, with joint position actuators and gravity compensation; its two fingers
slide on force-limited position actuators. :func:`arm_inverse_kinematics` is the
closed-form inverse kinematics of the gripper held vertical. The camera looks
60 degrees down from the front (+x) back at the arm; a light casts shadows.
"""

from __future__ import annotations

import numpy as np

from envs.rendering import visual_xml

CUBE_HALF = 0.02  # half side of the cube
CUBE_MASS = 0.05

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


def cube_scene_xml(image_size: int) -> str:
    """MJCF of the arm, the table and the cube, with an offscreen buffer for ``image_size``."""
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
  {visual_xml(image_size, ambient=0.45, diffuse=0.35, quality='<quality shadowsize="512"/>')}
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
