"""A maze task is a goal cell; reaching within SUCCESS_RADIUS of its centre gives reward 1 and ends the episode."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simpl_core.envs.maze.layout import MazeLayout

SUCCESS_RADIUS = 1.0


@dataclass(frozen=True)
class MazeTask:
    goal: tuple[int, int]

    @property
    def name(self) -> str:
        return f"goal({self.goal[0]},{self.goal[1]})"

    def to_raw(self) -> list[int]:
        return [int(self.goal[0]), int(self.goal[1])]

    def reached(self, position: np.ndarray) -> np.ndarray:
        """Success test; works for one position (2,) or a batch (n, 2)."""
        return np.linalg.norm(np.asarray(position)[..., :2] - np.asarray(self.goal), axis=-1) <= SUCCESS_RADIUS


def parse_maze_task(raw, layout: MazeLayout | None = None) -> MazeTask:
    """A task from its YAML form [x, y]; the goal must be a free cell of the layout."""
    if (
        not isinstance(raw, (list, tuple))
        or len(raw) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in raw)
    ):
        raise ValueError(f"a maze task is a goal cell [x, y] of two integers, got {raw!r}")
    layout = layout or MazeLayout.load()
    if not layout.is_free(raw):
        raise ValueError(
            f"maze goal {list(raw)} is a wall or outside the {layout.shape[0]}x{layout.shape[1]} maze {layout.name!r}"
        )
    return MazeTask(goal=(raw[0], raw[1]))


def goals_reached(tasks: list[MazeTask]):
    """A reach test for hindsight relabelling: observations (n, >= 2) -> (n, len(tasks)) bool, whether each
    position is within SUCCESS_RADIUS of each task's goal (the env's own success test, for all goals at once)."""
    goals = np.array([task.goal for task in tasks], dtype=np.float64)
    return lambda obs: np.linalg.norm(np.asarray(obs)[:, None, :2] - goals, axis=-1) <= SUCCESS_RADIUS
