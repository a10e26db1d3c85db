"""Grid mazes: wall (``#``) and free (``.``) cells of side 1, centred on the origin.

Row 0 is the top of the maze (largest y), column 0 its left (smallest x); cell
(row, col) is centred at ``(col - (n_cols - 1) / 2, (n_rows - 1) / 2 - row)``. The
border is all wall, so the free area lies within ``free_half_extents``. Shortest
paths are breadth-first searches over the free cells, 4-connected, as in D4RL's
maze tasks (Fu et al. 2020).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

Box = tuple[float, float, float, float]  # (x_min, x_max, y_min, y_max)
Cell = tuple[int, int]  # (row, col)


@dataclass(frozen=True)
class MazeLayout:
    """A maze given as rows of ``#`` (wall) and ``.`` (free), e.g. ``("###", "#.#", "###")``.

    Raises:
        ValueError: rows of unequal length, other characters, a free border cell, or no free
            cell.
    """

    rows: tuple[str, ...]

    def __post_init__(self) -> None:
        if len({len(row) for row in self.rows}) != 1 or set("".join(self.rows)) - set("#."):
            raise ValueError(
                f"a maze layout is rows of equal length of '#' and '.', got {self.rows}"
            )
        border = self.rows[0] + self.rows[-1] + "".join(row[0] + row[-1] for row in self.rows)
        if "." in border or "." not in "".join(self.rows):
            raise ValueError(f"a maze layout needs a wall border and a free cell, got {self.rows}")

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    @property
    def n_cols(self) -> int:
        return len(self.rows[0])

    @property
    def free_half_extents(self) -> tuple[float, float]:
        """Half width and half height (x, y) of the area inside the border."""
        return (self.n_cols - 2) / 2, (self.n_rows - 2) / 2

    def is_free_cell(self, cell: Cell) -> bool:
        row, col = cell
        return 0 <= row < self.n_rows and 0 <= col < self.n_cols and self.rows[row][col] == "."

    def free_cells(self) -> list[Cell]:
        """Every free cell, row by row."""
        return [
            (r, c)
            for r in range(self.n_rows)
            for c in range(self.n_cols)
            if self.is_free_cell((r, c))
        ]

    def wall_boxes(self) -> list[Box]:
        """One axis-aligned box per wall cell."""
        boxes = []
        for row in range(self.n_rows):
            for col in range(self.n_cols):
                if self.rows[row][col] == "#":
                    cx, cy = self.cell_centre((row, col))
                    boxes.append((cx - 0.5, cx + 0.5, cy - 0.5, cy + 0.5))
        return boxes

    def cell_of(self, position: np.ndarray) -> Cell:
        """The cell (row, col) holding ``position`` (2,) (the nearest one inside the layout)."""
        col = int(np.clip(round(position[0] + (self.n_cols - 1) / 2), 0, self.n_cols - 1))
        row = int(np.clip(round((self.n_rows - 1) / 2 - position[1]), 0, self.n_rows - 1))
        return row, col

    def cell_centre(self, cell: Cell) -> np.ndarray:
        """The centre (2,) of cell (row, col)."""
        row, col = cell
        return np.array([col - (self.n_cols - 1) / 2, (self.n_rows - 1) / 2 - row], np.float64)

    def cell_path(self, start: Cell, goal: Cell) -> list[Cell]:
        """A shortest path of free cells from ``start`` to ``goal``, both included.

        Raises:
            ValueError: either cell is a wall, or no path joins them.
        """
        for cell in (start, goal):
            if not self.is_free_cell(cell):
                raise ValueError(f"cell {cell} is not a free cell of the maze")
        parents: dict[Cell, Cell | None] = {start: None}
        queue = deque([start])
        while queue:
            cell = queue.popleft()
            if cell == goal:
                break
            row, col = cell
            for nxt in ((row - 1, col), (row + 1, col), (row, col - 1), (row, col + 1)):
                if self.is_free_cell(nxt) and nxt not in parents:
                    parents[nxt] = cell
                    queue.append(nxt)
        if goal not in parents:
            raise ValueError(f"no path from cell {start} to cell {goal}")
        path = [goal]
        while (parent := parents[path[-1]]) is not None:
            path.append(parent)
        return path[::-1]

    def path_lengths(self, start: Cell) -> dict[Cell, int]:
        """The number of cells to cross from free cell ``start`` to every free cell it joins."""
        lengths = {start: 0}
        queue = deque([start])
        while queue:
            row, col = cell = queue.popleft()
            for nxt in ((row - 1, col), (row + 1, col), (row, col - 1), (row, col + 1)):
                if self.is_free_cell(nxt) and nxt not in lengths:
                    lengths[nxt] = lengths[cell] + 1
                    queue.append(nxt)
        return lengths

    def path_cells(self, start: np.ndarray, goal: np.ndarray) -> int:
        """Cells to cross from the cell of ``start`` (2,) to that of ``goal`` (2,) (0: same)."""
        return len(self.cell_path(self.cell_of(start), self.cell_of(goal))) - 1
