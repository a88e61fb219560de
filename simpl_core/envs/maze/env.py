"""Gymnasium env of SiMPL's point-mass maze: observation [x, y, vx, vy], action = motor commands in [-1, 1]^2.

Without a task the env is task-agnostic (reward 0, never terminates): that is how offline data is collected.
With a task (a goal cell) it pays reward 1 and terminates when the ball is within 1.0 of the goal cell's centre.
The 2000-step horizon is a truncation (gymnasium's TimeLimit via the registered id), never a termination.
"""

from __future__ import annotations

import gymnasium
import mujoco
import numpy as np
from gymnasium import spaces

from simpl_core.envs.maze.layout import DEFAULT_LAYOUT, MazeLayout
from simpl_core.envs.maze.model import build_model, physics_step
from simpl_core.envs.maze.task import MazeTask, parse_maze_task

MAZE_HORIZON = 2000  # env steps per episode (200 high-level steps of 10)
DEFAULT_START = (10, 10)  # SiMPL's start cell for every task
START_POSITION_NOISE = 0.1  # uniform +- per axis
START_VELOCITY_NOISE = 0.1  # Gaussian std per axis
OBSERVATION_NAMES = ("x", "y", "vx", "vy")
ACTION_NAMES = ("force_x", "force_y")


def observation_space() -> spaces.Box:
    return spaces.Box(-np.inf, np.inf, shape=(4,), dtype=np.float32)


def action_space() -> spaces.Box:
    return spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)


def as_task(task, layout: MazeLayout) -> MazeTask | None:
    """Accept a MazeTask, a goal cell [x, y], or None (task-agnostic)."""
    if task is None or isinstance(task, MazeTask):
        return task
    return parse_maze_task(list(task), layout)


def reset_state(model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator, start_cell) -> None:
    """Put the ball near the centre of `start_cell` with a small random velocity."""
    mujoco.mj_resetData(model, data)
    data.qpos[:] = np.asarray(start_cell, dtype=float) + rng.uniform(-START_POSITION_NOISE, START_POSITION_NOISE, 2)
    data.qvel[:] = rng.normal(0.0, START_VELOCITY_NOISE, 2)
    mujoco.mj_forward(model, data)


def observe(data: mujoco.MjData) -> np.ndarray:
    return np.concatenate([data.qpos, data.qvel]).astype(np.float32)


class MazeEnv(gymnasium.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": int(1 / 0.01)}

    def __init__(
        self,
        task=None,
        layout: str | MazeLayout = DEFAULT_LAYOUT,
        start_cell=DEFAULT_START,
        render_mode: str | None = None,
    ):
        self.layout = layout if isinstance(layout, MazeLayout) else MazeLayout.load(layout)
        self.model = build_model(self.layout)
        self.data = mujoco.MjData(self.model)
        self.observation_space = observation_space()
        self.action_space = action_space()
        self.render_mode = render_mode
        self.start_cell = self._checked_cell(start_cell, "start")
        self.task = as_task(task, self.layout)
        self._renderer = None

    def _checked_cell(self, cell, what: str) -> tuple[int, int]:
        if not self.layout.is_free(cell):
            raise ValueError(f"{what} cell {tuple(cell)} is a wall or outside the maze")
        return int(cell[0]), int(cell[1])

    def set_task(self, task) -> None:
        """Switch the goal (a MazeTask, [x, y], or None); takes effect immediately."""
        self.task = as_task(task, self.layout)
        if self.task is not None:
            self.model.site_pos[0, :2] = self.task.goal

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = options or {}
        if "task" in options:
            self.set_task(options["task"])
        start = self._checked_cell(options["start"], "start") if "start" in options else self.start_cell
        reset_state(self.model, self.data, self.np_random, start)
        return observe(self.data), self._info()

    def step(self, action):
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (2,) or not np.all(np.isfinite(action)):
            raise ValueError(f"maze action must be 2 finite numbers, got {action!r}")
        physics_step(self.model, self.data, action)
        success = bool(self.task is not None and self.task.reached(self.data.qpos))
        return observe(self.data), float(success), success, False, self._info(success)

    def _info(self, success: bool = False) -> dict:
        return {"success": success}

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, 480, 480)
        self._renderer.update_scene(self.data, camera="top")
        return self._renderer.render()

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
