"""Scripted expert for wmplan/PointMaze-v0: waypoints through the U-maze cells to the goal.

Reads the ball and goal positions from the environment (true state). A
breadth-first search over the free cells of the maze layout gives the cell path
from the ball to the goal; the expert heads for the furthest point along
[goal, last path cell centre, ..., current cell centre] that a ball can reach
in a straight line without touching a wall, so it cuts corners where it can
and does not aim through a wall. The action is the displacement to that
point divided by the distance one full-force step covers, scaled down to fit
[-1, 1] keeping its direction (a proportional controller that stops on it).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from envs.ball_arena import Box
from envs.experts.base import ScriptedExpert
from envs.point_maze import BALL_RADIUS, MAZE_LAYOUT, PointMazeEnv, wall_boxes


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


def _cell_of(position: np.ndarray) -> tuple[int, int]:
    rows, cols = len(MAZE_LAYOUT), len(MAZE_LAYOUT[0])
    col = int(np.clip(round(position[0] + (cols - 1) / 2), 0, cols - 1))
    row = int(np.clip(round((rows - 1) / 2 - position[1]), 0, rows - 1))
    return row, col


def _cell_centre(cell: tuple[int, int]) -> np.ndarray:
    rows, cols = len(MAZE_LAYOUT), len(MAZE_LAYOUT[0])
    return np.array([cell[1] - (cols - 1) / 2, (rows - 1) / 2 - cell[0]], dtype=np.float64)


def cell_path(start: tuple[int, int], goal: tuple[int, int]) -> list[tuple[int, int]]:
    """Shortest path of free (row, col) cells from ``start`` to ``goal`` (both included)."""
    parents: dict[tuple[int, int], tuple[int, int] | None] = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        if cell == goal:
            break
        row, col = cell
        for nxt in ((row - 1, col), (row + 1, col), (row, col - 1), (row, col + 1)):
            if MAZE_LAYOUT[nxt[0]][nxt[1]] != "#" and nxt not in parents:
                parents[nxt] = cell
                queue.append(nxt)
    if goal not in parents:
        raise ValueError(f"no path from cell {start} to cell {goal}")
    path = [goal]
    while (parent := parents[path[-1]]) is not None:
        path.append(parent)
    return path[::-1]


class PointMazeExpert(ScriptedExpert):
    """Waypoint follower through the maze cells (see the module docstring).

    ``env`` is the unwrapped :class:`PointMazeEnv`; the noise is as in :class:`ScriptedExpert`.
    """

    def __init__(
        self, env: PointMazeEnv, noise: float = 0.0, rng: np.random.Generator | None = None
    ) -> None:
        super().__init__(env, noise, rng)
        self.walls = wall_boxes()
        self.reach = step_reach(env)

    def target(self) -> np.ndarray:
        """The point (2,) the expert heads for now."""
        position, goal = self.env.position, self.env.goal
        path = cell_path(_cell_of(position), _cell_of(goal))
        candidates = [goal] + [_cell_centre(cell) for cell in reversed(path)]
        for point in candidates:
            if segment_is_clear(position, point, self.walls, BALL_RADIUS):
                return point
        return candidates[-1]  # the current cell's centre

    def __call__(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        action = proportional_action(self.target() - self.env.position, self.reach)
        return self.noisy(action)
