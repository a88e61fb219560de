"""The maze grid: parsing, free cells, and shortest paths between cells.

Row index = x, column index = y, `#` is a wall, `.` is free; cell (x, y) is centred at position (x, y).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from simpl_core.paths import resource

DEFAULT_LAYOUT = "maze20_seed0"
_NEIGHBOURS = ((1, 0), (-1, 0), (0, 1), (0, -1))


@dataclass(frozen=True)
class MazeLayout:
    walls: np.ndarray
    """bool (rows, cols): True where the cell is a wall"""
    name: str = "custom"

    @classmethod
    def from_text(cls, text: str, name: str = "custom") -> "MazeLayout":
        rows = [line.strip() for line in text.strip().splitlines() if line.strip()]
        if not rows or len({len(r) for r in rows}) != 1:
            raise ValueError(f"maze layout {name!r}: rows must be non-empty and of equal length")
        bad = {ch for r in rows for ch in r} - {"#", "."}
        if bad:
            raise ValueError(f"maze layout {name!r}: unknown characters {sorted(bad)} (use '#' and '.')")
        walls = np.array([[ch == "#" for ch in r] for r in rows], dtype=bool)
        if not (walls[0].all() and walls[-1].all() and walls[:, 0].all() and walls[:, -1].all()):
            raise ValueError(f"maze layout {name!r}: the border must be all walls")
        return cls(walls=walls, name=name)

    @classmethod
    @lru_cache(maxsize=8)
    def load(cls, name_or_path: str = DEFAULT_LAYOUT) -> "MazeLayout":
        path = Path(name_or_path)
        if not path.is_file():
            path = resource("sim", "maze", f"{name_or_path}.txt")
        return cls.from_text(path.read_text(), name=path.stem)

    @property
    def shape(self) -> tuple[int, int]:
        return self.walls.shape

    def is_free(self, cell) -> bool:
        x, y = int(cell[0]), int(cell[1])
        return 0 <= x < self.shape[0] and 0 <= y < self.shape[1] and not self.walls[x, y]

    @cached_property
    def free_cells(self) -> np.ndarray:
        """(n, 2) int array of every free cell."""
        return np.argwhere(~self.walls)

    def reachable_cells(self, cell) -> np.ndarray:
        """(n, 2) int array of the free cells connected to `cell` (some free cells are walled in)."""
        return np.argwhere(self.distances_to(cell) >= 0)

    def cell_of(self, position) -> tuple[int, int]:
        """The cell whose centre is nearest to a continuous position."""
        return int(np.rint(position[0])), int(np.rint(position[1]))

    def distances_to(self, goal) -> np.ndarray:
        """Steps (4-connected) from every cell to `goal`; -1 where unreachable or wall."""
        dist = np.full(self.shape, -1, dtype=np.int64)
        goal = (int(goal[0]), int(goal[1]))
        if not self.is_free(goal):
            raise ValueError(f"goal cell {goal} is a wall or outside the maze")
        dist[goal] = 0
        queue = deque([goal])
        while queue:
            x, y = queue.popleft()
            for dx, dy in _NEIGHBOURS:
                nxt = (x + dx, y + dy)
                if self.is_free(nxt) and dist[nxt] < 0:
                    dist[nxt] = dist[x, y] + 1
                    queue.append(nxt)
        return dist

    def shortest_path(self, start, goal) -> list[tuple[int, int]]:
        """Cells from start to goal inclusive, along a shortest 4-connected path."""
        dist = self.distances_to(goal)
        cell = (int(start[0]), int(start[1]))
        if dist[cell] < 0:
            raise ValueError(f"no path from {cell} to {tuple(goal)}")
        path = [cell]
        while dist[cell] > 0:
            cell = next(
                (cell[0] + dx, cell[1] + dy)
                for dx, dy in _NEIGHBOURS
                if self.is_free((cell[0] + dx, cell[1] + dy)) and dist[cell[0] + dx, cell[1] + dy] == dist[cell] - 1
            )
            path.append(cell)
        return path

    def wall_boxes(self) -> list[tuple[int, int, int, int]]:
        """Cover the walls with few axis-aligned rectangles (x0, y0, x1, y1 inclusive): fewer geoms, faster
        collisions."""
        covered = np.zeros_like(self.walls)
        boxes = []
        rows, cols = self.shape
        for x in range(rows):
            for y in range(cols):
                if not self.walls[x, y] or covered[x, y]:
                    continue
                y1 = y
                while y1 + 1 < cols and self.walls[x, y1 + 1] and not covered[x, y1 + 1]:
                    y1 += 1
                x1 = x
                while x1 + 1 < rows and self.walls[x1 + 1, y : y1 + 1].all() and not covered[x1 + 1, y : y1 + 1].any():
                    x1 += 1
                covered[x : x1 + 1, y : y1 + 1] = True
                boxes.append((x, y, x1, y1))
        return boxes
