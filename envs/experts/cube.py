"""Scripted pick-and-place expert for wmplan/Cube-v0 (as OGBench's scripted cube data).

The expert reads the true state (end effector, gripper opening, cube and goal
positions) and decides afresh at every step, so it recovers when a grasp
slips or noise knocks the cube away:

1. cube on the table within ``place_tolerance`` of the goal: open, rise and
   return to the home pose (the pose of the goal image);
2. cube held: lift to ``carry_height``, move above the goal, descend (still
   correcting sideways), open once the cube touches the table;
3. otherwise: open, move above the cube at ``carry_height`` (rising first when
   low and away from it, re-centring when low and near), descend around it,
   close when the pads surround it.

Each move is a proportional step towards a Cartesian waypoint, saturated at
the action bound.

With ``aim_noise`` the expert aims its first grasp of an episode at a point off
the cube's centre (Gaussian in x and y): the pads close beside the cube, or
land on it and push it, and the cube stays where it is. Once the gripper has
closed on nothing it aims at the centre again, or, with probability
``blind_carry``, carries on as if it held the cube: to the goal at carry
height and down, the gripper held at a random opening. These near misses are what a
world model must see to tell a grasp that lifts the cube from one that misses
it (a model trained on clean grasps predicts the cube to follow any closing
gripper near it, and a planner exploits that).
"""

from __future__ import annotations

import numpy as np

from envs.cube import CubeEnv
from envs.cube_scene import CUBE_HALF, HOME_EFFECTOR, MAX_FINGER_TRAVEL, MIN_GAP
from envs.experts.base import ScriptedExpert

OPEN, CLOSE = -1.0, 1.0


class CubeExpert(ScriptedExpert):
    """Pick the cube, carry it above the goal, put it down, return home.

    Args:
        env: the unwrapped :class:`~envs.cube.CubeEnv`.
        noise: standard deviation of Gaussian noise added to each action, as a
            fraction of the action range (2), before clipping to [-1, 1].
        rng: numpy generator for the noise (a fresh default one if None).
        carry_height: end-effector height (m) for moves above the table.
        place_tolerance: horizontal cube-to-goal distance (m) at which a cube on
            the table counts as placed (below the 0.04 m success threshold).
        align_tolerance: horizontal error (m) below which the gripper descends
            onto the cube, or the held cube is put down at the goal.
        aim_noise: std (m) of the first grasp's aim off the cube's centre in x
            and y, drawn at ``reset`` (0: aim at the centre).
        blind_carry: probability that a missed grasp is carried on to the goal
            as if it held the cube (an empty carry), with a random gripper command.
    """

    def __init__(
        self,
        env: CubeEnv,
        noise: float = 0.0,
        rng: np.random.Generator | None = None,
        carry_height: float = 0.1,
        place_tolerance: float = 0.025,
        align_tolerance: float = 0.02,
        aim_noise: float = 0.0,
        blind_carry: float = 0.0,
    ) -> None:
        super().__init__(env, noise, rng)
        if not aim_noise >= 0:
            raise ValueError(f"aim_noise must be >= 0 m, got {aim_noise}")
        if not 0 <= blind_carry <= 1:
            raise ValueError(f"blind_carry must be in [0, 1], got {blind_carry}")
        self.carry_height = carry_height
        self.place_tolerance = place_tolerance
        self.align_tolerance = align_tolerance
        self.aim_noise = aim_noise
        self.blind_carry = blind_carry
        self._aim = np.zeros(3)  # the grasp's aim off the cube's centre (m)
        self._blind_grip: float | None = None  # the gripper command of an empty carry

    def reset(self) -> None:
        """Draws the first grasp's aim (``aim_noise``)."""
        self._aim, self._blind_grip = np.zeros(3), None
        if self.aim_noise > 0:
            self._aim[:2] = self.rng.normal(0.0, self.aim_noise, 2)

    def __call__(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        env = self.env
        effector, cube, goal = env.effector_position, env.cube_position, env.goal_position
        opening = env.gripper_opening
        cube_offset = effector - cube  # aim with the cube, not with the pads
        cube_to_goal = np.linalg.norm(goal[:2] - cube[:2])
        # between the pads and squeezed: the gap is at most the cube's face diagonal
        held = (
            np.linalg.norm(cube_offset[:2]) < 0.02
            and abs(cube_offset[2]) < 0.02
            and opening < 2 * np.sqrt(2) * CUBE_HALF
        )
        on_table = cube[2] < CUBE_HALF + 0.008
        low = effector[2] < 4 * CUBE_HALF + 0.02  # pads reach down past the cube top
        if not held and low and opening < MIN_GAP + 0.005 and self._aim.any():
            self._aim = np.zeros(3)  # closed on nothing: aim at the centre from now on
            if self.rng.random() < self.blind_carry:
                self._blind_grip = float(self.rng.uniform(-1.0, 1.0))
        if self._blind_grip is not None:  # the empty carry: to the goal and down
            if np.linalg.norm(effector[:2] - goal[:2]) > self.align_tolerance:
                rise = effector[2] < self.carry_height - 0.03  # lift first, as with a cube
                target = effector + [0, 0, 0.05] if rise else np.append(goal[:2], self.carry_height)
            else:
                target = np.append(goal[:2], CUBE_HALF)
            return self.noisy(self._toward(effector, target, self._blind_grip))
        if on_table and cube_to_goal < self.place_tolerance:
            # placed: open, rise clear of the cube, go home
            if opening < MIN_GAP + 2 * MAX_FINGER_TRAVEL - 0.01 and low:
                action = self._toward(effector, effector, OPEN)
            elif effector[2] < self.carry_height - 0.01:
                action = self._toward(effector, effector + [0, 0, 0.05], OPEN)
            else:
                action = self._toward(effector, HOME_EFFECTOR, OPEN)
        elif held:
            if cube_to_goal > self.align_tolerance:
                if effector[2] < self.carry_height - 0.03:
                    target = np.append(effector[:2], self.carry_height)  # lift first
                else:
                    target = np.append(goal[:2] + cube_offset[:2], self.carry_height)
                action = self._toward(effector, target, CLOSE)
            elif not on_table:
                action = self._toward(effector, goal + cube_offset, CLOSE)  # put it down
            else:
                action = self._toward(effector, goal + cube_offset, OPEN)  # let go
        else:
            cube = cube + self._aim  # where it grasps
            cube_offset = effector - cube
            to_cube = np.linalg.norm(cube_offset[:2])
            if to_cube > self.align_tolerance:
                if not low:
                    target = np.append(cube[:2], self.carry_height)
                elif to_cube < 2 * self.align_tolerance:
                    target = np.append(cube[:2], effector[2])  # re-centre around the cube
                else:
                    target = effector + [0, 0, 0.05]  # rise before crossing
                action = self._toward(effector, target, OPEN)
            elif effector[2] > cube[2] + 0.008:
                action = self._toward(effector, cube, OPEN)  # descend around the cube
            else:
                action = self._toward(effector, cube, CLOSE)
        return self.noisy(action)

    def _toward(self, effector: np.ndarray, target: np.ndarray, gripper: float) -> np.ndarray:
        move = np.clip((np.asarray(target) - effector) / self.env.max_step, -1.0, 1.0)
        return np.append(move, gripper)
