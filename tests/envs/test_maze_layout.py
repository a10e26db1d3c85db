"""Grid maze layouts: cells, walls and shortest paths with known answers."""

import itertools

import numpy as np
import pytest

from envs.large_maze import LARGE_MAZE
from envs.maze_layout import MazeLayout
from envs.point_maze import U_MAZE


def test_u_maze_geometry():
    assert U_MAZE.free_half_extents == (1.5, 1.5) and len(U_MAZE.wall_boxes()) == 25 - 7
    np.testing.assert_array_equal(U_MAZE.cell_centre((1, 1)), [-1.0, 1.0])
    assert U_MAZE.cell_of(np.array([-1.2, 0.8])) == (1, 1)
    assert U_MAZE.cell_of(np.array([9.0, -9.0])) == (4, 4)  # the nearest cell inside


def test_large_maze_is_d4rls():
    # D4RL maze2d-large: 46 free cells, the longest shortest path crosses 19 cells
    cells = LARGE_MAZE.free_cells()
    assert len(cells) == 46 and LARGE_MAZE.free_half_extents == (5.0, 3.5)
    longest = max(len(LARGE_MAZE.cell_path(a, b)) - 1 for a, b in itertools.combinations(cells, 2))
    assert longest == 19
    path = LARGE_MAZE.cell_path((1, 1), (7, 10))
    assert len(path) - 1 == 15 and all(
        abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in itertools.pairwise(path)
    )
    lengths = LARGE_MAZE.path_lengths((1, 1))
    assert lengths[(7, 10)] == 15 and set(lengths) == set(cells)
    assert LARGE_MAZE.path_cells(np.array([-4.5, 3.0]), np.array([4.5, -3.0])) == 15


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (("###", "#.", "###"), "equal length"),
        (("###", "#x#", "###"), "equal length of '#' and '.'"),
        (("#.#", "#.#", "###"), "wall border"),
        (("###", "###"), "free cell"),
    ],
)
def test_bad_layouts_are_refused(rows, message):
    with pytest.raises(ValueError, match=message):
        MazeLayout(rows)


def test_paths_need_free_joined_cells():
    split = MazeLayout(("#####", "#.#.#", "#####"))
    with pytest.raises(ValueError, match="no path"):
        split.cell_path((1, 1), (1, 3))
    with pytest.raises(ValueError, match="not a free cell"):
        split.cell_path((0, 0), (1, 1))
