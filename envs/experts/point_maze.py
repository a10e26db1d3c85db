"""Scripted expert for the grid mazes (wmplan/PointMaze-v0, wmplan/LargeMaze-v0): waypoints
through the maze cells to the goal.

Reads the ball and goal positions from the environment (true state). A
breadth-first search over the free cells of the maze layout (``env.layout``) gives the cell path
from the ball to the goal; the expert heads for the furthest point along
[goal, last path cell centre, ..., current cell centre] that a ball can reach
in a straight line without touching a wall, so it cuts corners where it can
and does not aim through a wall. The action is the displacement to that
point divided by the distance one full-force step covers, scaled down to fit
[-1, 1] keeping its direction (a proportional controller that stops on it).
"""

from __future__ import annotations

import numpy as np

from envs.experts.base import ScriptedExpert
from envs.maze_layout import Box
from envs.point_maze import PointMazeEnv


def segment_is_clear(start: np.ndarray, end: np.ndarray, boxes: list[Box], margin: float) -> bool:
    """Whether a disc of radius ``margin`` sweeping ``start`` -> ``end`` (2,) misses every box.

    Each box is inflated by ``margin`` (a square inflation: conservative at
    corners); touching a face (sliding along a wall) counts as clear.
    """
    return not any(_segment_hits_box(start, end, box, margin) for box in boxes)


def _segment_hits_box(start: np.ndarray, end: np.ndarray, box: Box, margin: float) -> bool:
    # slab method: intersect the segment's parameter interval [0, 1] with each axis slab
    x0, x1, y0, y1 = box
    delta = end - start
    t_enter, t_exit = 0.0, 1.0
    for axis, (low, high) in enumerate(((x0 - margin, x1 + margin), (y0 - margin, y1 + margin))):
        if abs(delta[axis]) < 1e-12:
            if not low < start[axis] < high:
                return False  # parallel to this slab and outside it
            continue
        t_low = (low - start[axis]) / delta[axis]
        t_high = (high - start[axis]) / delta[axis]
        t_enter = max(t_enter, min(t_low, t_high))
        t_exit = min(t_exit, max(t_low, t_high))
    return t_enter < t_exit


def step_reach(env) -> float:
    """Distance a full-force action moves a damped point mass in one control step.

    Works for any env built like PointMazeEnv (motor gear = max_speed * damping).
    """
    max_speed = env.model.actuator_gear[0, 0] / env.model.dof_damping[0]
    return float(max_speed * env.frame_skip * env.model.opt.timestep)


def proportional_action(displacement: np.ndarray, reach: float) -> np.ndarray:
    """Action (2,) covering ``displacement`` in one step, scaled to [-1, 1] keeping direction."""
    action = displacement / reach
    return action / max(1.0, float(np.max(np.abs(action))))


class PointMazeExpert(ScriptedExpert):
    """Waypoint follower through the maze cells (see the module docstring).

    ``env`` is an unwrapped grid maze (:class:`PointMazeEnv` or a subclass: it has a
    ``layout``); the noise is as in :class:`ScriptedExpert`.
    """

    def __init__(
        self, env: PointMazeEnv, noise: float = 0.0, rng: np.random.Generator | None = None
    ) -> None:
        super().__init__(env, noise, rng)
        self.walls = env.layout.wall_boxes()
        self.reach = step_reach(env)

    def target(self) -> np.ndarray:
        """The point (2,) the expert heads for now."""
        layout, position, goal = self.env.layout, self.env.position, self.env.goal
        path = layout.cell_path(layout.cell_of(position), layout.cell_of(goal))
        candidates = [goal] + [layout.cell_centre(cell) for cell in reversed(path)]
        for point in candidates:
            if segment_is_clear(position, point, self.walls, self.env.ball_radius):
                return point
        return candidates[-1]  # the current cell's centre

    def __call__(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        action = proportional_action(self.target() - self.env.position, self.reach)
        return self.noisy(action)
