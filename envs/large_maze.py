"""The point mass of PointMaze in D4RL's large maze, with far goals (hierarchical planning).

Layout: D4RL's ``maze2d-large`` (Fu et al. 2020), 12 x 9 cells of side 1.0 with the
border, 46 free cells; the free area inside the border spans [-5, 5] x [-3.5, 3.5].
The longest shortest path between two free cells crosses 19 cells (the U-maze's: 6).

Everything else is PointMaze's (:class:`~envs.point_maze.PointMazeEnv`): the ball on
damped slide joints pushed by a 2-D force, ``max_speed`` 2.4 units/s, 2 Hz control (a
step moves the ball at most about 1.2 units), proprio (x, y, vx, vy), success within 0.5
units of the goal. The ball is twice as large (radius 0.3) so that it still spans about
4 pixels of a 64-pixel image, whose orthographic camera sees [-5.2, 5.2]^2.

Goals are far: a sampled goal lies at least ``min_goal_cells`` (12 by default: about one
pair in five of uniformly drawn free positions) cells from the start along the shortest
path of free cells, so a flat planner's horizon does not reach it (five 2 Hz steps cover
at most 6 cells in a straight line). A sampled start is uniform over the free positions
from which such a goal exists. ``reset(options={"start": ..., "goal": ...})`` places
either: a given goal may be anywhere free; a given start without a goal must have a far
goal somewhere. ``wmplan/LargeMaze-v0`` gives 50 control
steps; the scripted expert (:class:`envs.experts.point_maze.PointMazeExpert`) reaches each of
the first 30 benchmark goals within 18.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.errors import EnvArgumentError
from envs.maze_layout import MazeLayout
from envs.point_maze import PointMazeEnv

LARGE_MAZE = MazeLayout(
    (
        "############",
        "#....#.....#",
        "#.##.#.#.#.#",
        "#......#...#",
        "#.####.###.#",
        "#..#.#.....#",
        "##.#.#.#.###",
        "#..#...#...#",
        "############",
    )
)


class LargeMazeEnv(PointMazeEnv):
    """Point mass in D4RL's large maze, far goals (see the module docstring).

    Observations and actions are those of :class:`~envs.ball_arena.BallArenaEnv`.
    """

    scene_name = "large_maze"
    layout = LARGE_MAZE
    ball_radius = 0.3
    half_extents = LARGE_MAZE.free_half_extents
    view_extent = 5.2
    ball_rgba = "0.85 0.15 0.10 1"  # red

    def __init__(
        self,
        image_size: int = 64,
        control_dt: float = 0.5,
        max_speed: float = 2.4,
        success_threshold: float = 0.5,
        min_goal_distance: float = 1.0,
        min_goal_cells: int = 12,
        render_mode: str | None = "rgb_array",
    ) -> None:
        if not 0 <= min_goal_cells <= 19:
            raise ValueError(
                f"min_goal_cells must lie in [0, 19] (the longest shortest path), got "
                f"{min_goal_cells}"
            )
        self.min_goal_cells = min_goal_cells
        super().__init__(
            image_size=image_size,
            control_dt=control_dt,
            max_speed=max_speed,
            success_threshold=success_threshold,
            min_goal_distance=min_goal_distance,
            render_mode=render_mode,
        )

    def _far_cells(self, position: np.ndarray) -> list[tuple[int, int]]:
        """The free cells at least ``min_goal_cells`` cells from ``position``'s along the maze."""
        lengths = self.layout.path_lengths(self.layout.cell_of(position))
        return [cell for cell, n in lengths.items() if n >= self.min_goal_cells]

    def _sample_episode(self, options: dict[str, Any]) -> tuple[np.ndarray]:
        if "start" in options:
            start = self._checked_position(options["start"], "start")
            if "goal" not in options and not self._far_cells(start):
                raise EnvArgumentError(
                    f"options['start'] = {start.tolist()} has no free cell "
                    f"{self.min_goal_cells} or more cells away to sample a goal in; give a "
                    "goal too, or another start"
                )
        else:
            start = self.sample_free_position()
            while not self._far_cells(start):
                start = self.sample_free_position()
        if "goal" in options:
            self.goal = self._checked_position(options["goal"], "goal")
            return (start,)
        far = set(self._far_cells(start))
        self.goal = self.sample_free_position()
        while (
            self.layout.cell_of(self.goal) not in far
            or np.linalg.norm(self.goal - start) < self.min_goal_distance
        ):
            self.goal = self.sample_free_position()
        return (start,)
