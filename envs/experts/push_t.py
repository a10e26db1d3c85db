"""Scripted Push-T expert: pick a contact on the T, walk around to it, push.

A feedback controller on the true state (block pose, pusher position, goal).
It models the block as quasi-static with the environment's own viscous
damping ``D = diag(c, c, c_theta)`` about the centre of mass: pushing with a
frictionless contact at block point ``r`` along the inward normal ``n`` applies
the wrench ``w = (n, r x n)``, and the block answers with the twist
``D^-1 w / (w^T D^-1 w)`` per unit of pusher travel along ``n``.

Each step it scores every contact candidate (points along the T's edges,
0.02 apart) by how much of the pose error ``E = (dx, dy, dtheta)`` one push
along that twist can remove, in the metric ``diag(1, 1, L^2)`` with
``L = position threshold / angle threshold`` (so both errors count in units of
their success thresholds), minus a cost for the walk to reach it. Pushing
through the centre of mass translates, pushing off-centre turns and
translates, so translation and rotation corrections alternate on their own.
To reach a contact, the pusher follows the shortest path through a ring of
waypoints around the block that keeps it clear of the T (a visibility graph),
then pushes along the edge's normal, tracking the contact point sideways, with
a speed that shrinks with the remaining error. Once the block is well inside
the success thresholds it walks the pusher round the block to where the goal
image shows it (``env.goal_pusher``, by default the far table corner) and
waits there, so that its episodes end in the goal image's state (as OGBench's
cube expert returns the arm home); ``park=False`` holds still beside the block.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from envs.experts.base import ScriptedExpert
from envs.geometry import wrap_angle
from envs.push_t import PUSHER_RADIUS
from envs.push_t_block import TABLE_HALF_EXTENT, block_outline, distance_to_block, to_world_frame

CONTACT_SPACING = 0.02  # between contact candidates along the T's edges
CORNER_MARGIN = 0.02  # no candidates this close to a corner
APPROACH_GAP = 0.03  # pre-contact: pusher this far from the edge
TRAVEL_CLEARANCE = 0.02  # pusher surface kept this far from the block while walking
RING_SIZE = 16  # waypoints on a circle around the block
WALK_COST = 0.15  # score penalty per unit of walking distance to a contact
SWITCH_MARGIN = 0.25  # keep the current contact unless another scores this much better
SEGMENT_SAMPLES = 32  # points checked along each path segment


def _contact_candidates() -> tuple[np.ndarray, np.ndarray]:
    """Points (K, 2) along the T's edges and their inward normals (K, 2), block frame.

    Points where the pusher touching the edge, or waiting in front of it, would
    be as close to another part of the T (the inner corners under the bar) are
    left out.
    """
    outline = block_outline()
    points, normals = [], []
    for a, b in zip(outline, np.roll(outline, -1, axis=0), strict=True):
        length = np.linalg.norm(b - a)
        tangent = (b - a) / length
        inward = np.array([-tangent[1], tangent[0]])  # counter-clockwise outline: left is inside
        n = int((length - 2 * CORNER_MARGIN) // CONTACT_SPACING) + 1
        offsets = np.linspace(CORNER_MARGIN, length - CORNER_MARGIN, max(n, 1))
        points.append(a + offsets[:, None] * tangent)
        normals.append(np.broadcast_to(inward, (len(offsets), 2)))
    points, normals = np.concatenate(points), np.concatenate(normals)
    zero_pose = np.zeros(3)
    touching = points - normals * PUSHER_RADIUS
    approach = points - normals * (PUSHER_RADIUS + APPROACH_GAP)
    clear = (distance_to_block(touching, zero_pose) > PUSHER_RADIUS - 1e-3) & (
        distance_to_block(approach, zero_pose) > PUSHER_RADIUS + APPROACH_GAP - 1e-3
    )
    return points[clear], normals[clear]


class PushTExpert(ScriptedExpert):
    """Scripted expert for :class:`envs.push_t.PushTEnv` (see the module docstring).

    Args:
        env: the unwrapped Push-T environment (its true state is read).
        noise: std of the Gaussian noise added to each action, as a fraction of
            the action range (2); the noisy action is clipped to [-1, 1].
        rng: numpy generator for the noise.
        park: once the block is placed, walk to the goal image's pusher position.
    """

    def __init__(
        self,
        env: gym.Env,
        noise: float = 0.0,
        rng: np.random.Generator | None = None,
        park: bool = True,
    ) -> None:
        super().__init__(env, noise, rng)
        self.park = park
        self.points, self.normals = _contact_candidates()
        damping = env.model.dof_damping[:3]  # block x, y, theta
        self.inverse_damping = 1.0 / damping
        self.length_scale = env.success_position_threshold / env.success_angle_threshold
        self.metric = np.array([1.0, 1.0, self.length_scale**2])
        self.done_position = 0.4 * env.success_position_threshold
        self.done_angle = 0.4 * env.success_angle_threshold
        outline_radius = np.linalg.norm(block_outline(), axis=1).max()
        self.ring_radius = outline_radius + PUSHER_RADIUS + TRAVEL_CLEARANCE + 0.03
        self.reset()

    def reset(self) -> None:
        """Forget the current contact (call after ``env.reset``)."""
        self._contact: int | None = None
        self._pushing = False
        self._holding = False

    def __call__(self, obs: dict[str, np.ndarray] | None = None) -> np.ndarray:
        velocity = self._velocity()
        action = velocity / self.env.max_speed
        action /= max(1.0, np.abs(action).max())  # keep the direction when saturating
        return self.noisy(action)

    # -- control ------------------------------------------------------------------
    def _velocity(self) -> np.ndarray:
        """The pusher velocity (2,) to command, in units/s."""
        env = self.env
        pose, pusher, goal = env.block_pose, env.pusher_position, env.goal
        error = np.array([*(goal[:2] - pose[:2]), wrap_angle(goal[2] - pose[2])])
        position_error, angle_error = np.linalg.norm(error[:2]), abs(error[2])
        # hold still once well inside the thresholds; resume if pushed back out
        if position_error < self.done_position and angle_error < self.done_angle:
            self._holding = True
        elif self._holding and (
            position_error > 0.7 * env.success_position_threshold
            or angle_error > 0.7 * env.success_angle_threshold
        ):
            self._holding = False
        if self._holding:
            self._contact, self._pushing = None, False
            if self.park:
                return self._walk(pusher, env.goal_pusher, pose)
            return self._retreat(pusher, pose, speed=0.3)

        points = to_world_frame(self.points, pose)  # (K, 2)
        c, s = np.cos(pose[2]), np.sin(pose[2])
        normals = self.normals @ np.array([[c, s], [-s, c]])  # (K, 2) inward, world frame
        step_gain, residual = self._push_effect(points - pose[:2], normals, error)
        approach = points - normals * (PUSHER_RADIUS + APPROACH_GAP)
        reachable = np.all(np.abs(approach) <= TABLE_HALF_EXTENT - PUSHER_RADIUS - 0.01, axis=1)
        walk = np.linalg.norm(approach - pusher, axis=1)
        score = np.where(reachable & (step_gain > 0), residual + WALK_COST * walk, np.inf)
        if self._pushing:
            score[self._contact] -= WALK_COST * walk[self._contact] + SWITCH_MARGIN
        best = int(np.argmin(score))
        if self._contact != best:
            self._contact, self._pushing = best, False
        k = self._contact
        if not np.isfinite(score[k]):  # nothing helps (should not happen): back off
            return self._retreat(pusher, pose, speed=0.3)

        if not self._pushing:
            if np.linalg.norm(approach[k] - pusher) < 0.015:
                self._pushing = True
            else:
                return self._walk(pusher, approach[k], pose)
        # push along the inward normal, keeping the pusher in line with the contact point
        push_length = step_gain[k]
        speed = np.clip(push_length / (2 * self.env.control_dt), 0.1, self.env.max_speed)
        tangent = np.array([-normals[k, 1], normals[k, 0]])
        touch = points[k] - normals[k] * PUSHER_RADIUS
        sideways = ((touch - pusher) @ tangent) / self.env.control_dt
        return speed * normals[k] + 0.5 * sideways * tangent

    def _push_effect(
        self, offsets: np.ndarray, normals: np.ndarray, error: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best push length (K,) along each contact's twist and the error left (K,) after it.

        Args:
            offsets: contact points relative to the block's centre (K, 2), world frame.
            normals: inward normals (K, 2), world frame.
            error: goal pose minus block pose (3,).

        Returns:
            The push length minimising the remaining error (negative: pushing
            there makes it worse), and the remaining squared error as a fraction
            of the current one, in the metric diag(1, 1, L^2).
        """
        torque = offsets[:, 0] * normals[:, 1] - offsets[:, 1] * normals[:, 0]
        wrench = np.concatenate([normals, torque[:, None]], axis=1)  # (K, 3)
        twist = wrench * self.inverse_damping
        twist /= np.sum(twist * wrench, axis=1, keepdims=True)  # per unit of push along n
        along = twist @ (self.metric * error)  # (K,)
        twist_norm = np.sum(self.metric * twist * twist, axis=1)
        error_norm = error @ (self.metric * error)
        length = along / twist_norm
        residual = 1.0 - np.maximum(along, 0.0) ** 2 / (twist_norm * error_norm)
        return length, residual

    def _retreat(self, pusher: np.ndarray, pose: np.ndarray, speed: float) -> np.ndarray:
        """Move away from the block if closer than the walking clearance, else stay."""
        gap = distance_to_block(pusher, pose) - PUSHER_RADIUS
        if gap >= TRAVEL_CLEARANCE:
            return np.zeros(2)
        away = pusher - pose[:2]
        return speed * away / max(np.linalg.norm(away), 1e-9)

    def _walk(self, pusher: np.ndarray, target: np.ndarray, pose: np.ndarray) -> np.ndarray:
        """Velocity (2,) towards the next waypoint of a path to ``target`` around the block."""
        limit = TABLE_HALF_EXTENT - PUSHER_RADIUS - 0.01
        if distance_to_block(pusher, pose) - PUSHER_RADIUS < TRAVEL_CLEARANCE + 1e-3:
            # too close to see anything: step straight out, away from the nearest part
            return self._away_from_block(pusher, pose)
        angles = pose[2] + np.linspace(0, 2 * np.pi, RING_SIZE, endpoint=False)
        ring = pose[:2] + self.ring_radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        ring = ring[np.all(np.abs(ring) <= limit, axis=1)]
        nodes = np.concatenate([pusher[None], ring, target[None]])  # (M, 2)
        distance = self._visible_distances(nodes, pose)
        path_next = _first_step(distance)
        if path_next is None:  # boxed in (block by a wall): step away and look again
            return self._away_from_block(pusher, pose)
        waypoint = nodes[path_next]
        offset = waypoint - pusher
        length = np.linalg.norm(offset)
        max_speed = self.env.max_speed
        speed = (
            max_speed
            if path_next != len(nodes) - 1
            else min(max_speed, length / self.env.control_dt)
        )
        return speed * offset / max(length, 1e-9)

    def _away_from_block(self, pusher: np.ndarray, pose: np.ndarray) -> np.ndarray:
        """Velocity (2,) straight away from the closest point of the block."""
        eps = 1e-4
        grad = np.array(
            [
                distance_to_block(pusher + [eps, 0.0], pose)
                - distance_to_block(pusher - [eps, 0.0], pose),
                distance_to_block(pusher + [0.0, eps], pose)
                - distance_to_block(pusher - [0.0, eps], pose),
            ]
        )
        if np.linalg.norm(grad) < 1e-9:
            grad = pusher - pose[:2]
        return 0.5 * self.env.max_speed * grad / max(np.linalg.norm(grad), 1e-9)

    def _visible_distances(self, nodes: np.ndarray, pose: np.ndarray) -> np.ndarray:
        """Pairwise lengths (M, M) of the segments between nodes that keep clear of the block."""
        fractions = np.linspace(0.0, 1.0, SEGMENT_SAMPLES)[:, None]
        starts, ends = nodes[:, None, None, :], nodes[None, :, None, :]
        samples = starts + fractions * (ends - starts)  # (M, M, S, 2)
        clear = (
            distance_to_block(samples, pose).min(axis=-1) >= PUSHER_RADIUS + TRAVEL_CLEARANCE - 1e-3
        )
        lengths = np.linalg.norm(nodes[:, None] - nodes[None], axis=-1)
        return np.where(clear | np.eye(len(nodes), dtype=bool), lengths, np.inf)


def _first_step(distance: np.ndarray) -> int | None:
    """First node after node 0 on the shortest path from node 0 to the last node (Dijkstra).

    Args:
        distance: edge lengths (M, M), inf where there is no edge.

    Returns:
        The node index, or None when the last node cannot be reached.
    """
    m = len(distance)
    best = np.full(m, np.inf)
    previous = np.full(m, -1)
    best[0] = 0.0
    done = np.zeros(m, dtype=bool)
    for _ in range(m):
        node = int(np.argmin(np.where(done, np.inf, best)))
        if not np.isfinite(best[node]):
            break
        done[node] = True
        candidate = best[node] + distance[node]
        better = (candidate < best) & ~done
        best[better] = candidate[better]
        previous[better] = node
    if not np.isfinite(best[-1]):
        return None
    node = m - 1
    while previous[node] != 0:
        node = previous[node]
    return node
