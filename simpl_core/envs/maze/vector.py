"""Batched maze: many episodes stepped at once through `mujoco.rollout` (one C call, a thread pool), behind
Gymnasium's VectorEnv API.

Same model, dynamics, start distribution, success test and horizon as MazeEnv. Each sub-env has its own task.
Autoreset follows Gymnasium: NEXT_STEP (default) resets a finished env on the following step, DISABLED leaves it to
the caller, who resets finished envs with `reset(options={"reset_mask": mask, ...})`.
"""

from __future__ import annotations

import mujoco
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from simpl_core.envs.batching import per_env, pop_reset_mask, rollout_pool
from simpl_core.envs.maze.env import DEFAULT_START, MAZE_HORIZON, action_space, as_task, observation_space, reset_state
from simpl_core.envs.maze.layout import DEFAULT_LAYOUT, MazeLayout
from simpl_core.envs.maze.model import MAX_JOINT_VELOCITY, build_model
from simpl_core.envs.maze.task import SUCCESS_RADIUS

_STATE_SPEC = mujoco.mjtState.mjSTATE_FULLPHYSICS  # time, qpos (2), qvel (2) for this model


class MazeVectorEnv(VectorEnv):
    def __init__(
        self,
        num_envs: int,
        tasks=None,
        layout: str | MazeLayout = DEFAULT_LAYOUT,
        start_cell=DEFAULT_START,
        max_episode_steps: int = MAZE_HORIZON,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        num_threads: int | None = None,
    ):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = num_envs
        self.layout = layout if isinstance(layout, MazeLayout) else MazeLayout.load(layout)
        self.model = build_model(self.layout)
        self.max_episode_steps = max_episode_steps
        self.metadata = {"autoreset_mode": AutoresetMode(autoreset_mode)}
        self.single_observation_space = observation_space()
        self.single_action_space = action_space()
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)

        self._scratch = mujoco.MjData(self.model)
        nq = self.model.nq
        self._qpos = slice(1, 1 + nq)
        self._qvel = slice(1 + nq, 1 + nq + self.model.nv)
        self._state = np.zeros((num_envs, mujoco.mj_stateSize(self.model, _STATE_SPEC)))
        self._next_state = np.zeros((num_envs, 1, self._state.shape[1]))
        self._goals = np.full((num_envs, 2), np.nan)  # NaN: task-agnostic
        self._start_cells = np.tile(np.asarray(start_cell, dtype=float), (num_envs, 1))
        self._elapsed = np.zeros(num_envs, dtype=np.int64)
        self._needs_reset = np.zeros(num_envs, dtype=bool)
        self._rng = np.random.default_rng()
        self._datas, self._rollout = rollout_pool(self.model, num_threads)
        self._models = [self.model] * num_envs
        if tasks is not None:
            self.set_tasks(tasks)

    # --- per-env configuration -------------------------------------------------------------------------------
    def set_tasks(self, tasks, mask: np.ndarray | None = None) -> None:
        """Give each env (or each env where mask is True) its task: a MazeTask, [x, y] or None."""
        for i, task in per_env(tasks, mask, self.num_envs):
            task = as_task(task, self.layout)
            self._goals[i] = np.nan if task is None else task.goal

    def set_start_cells(self, cells, mask: np.ndarray | None = None) -> None:
        for i, cell in per_env(cells, mask, self.num_envs):
            if not self.layout.is_free(cell):
                raise ValueError(f"start cell {tuple(cell)} is a wall or outside the maze")
            self._start_cells[i] = cell

    # --- Gymnasium API ---------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Reset all envs, or those in options['reset_mask']; options may also carry 'tasks' and 'start_cells'
        (one per env being reset)."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        options = dict(options or {})
        mask = pop_reset_mask(options, self.num_envs)
        if "tasks" in options:
            self.set_tasks(options["tasks"], mask)
        if "start_cells" in options:
            self.set_start_cells(options["start_cells"], mask)
        self._reset_envs(mask)
        return self._observations(), self._infos(np.zeros(self.num_envs, dtype=bool))

    def _reset_envs(self, mask: np.ndarray) -> None:
        for i in np.flatnonzero(mask):
            reset_state(self.model, self._scratch, self._rng, self._start_cells[i])
            mujoco.mj_getState(self.model, self._scratch, self._state[i], _STATE_SPEC)
        self._elapsed[mask] = 0
        self._needs_reset[mask] = False

    def step(self, actions):
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != (self.num_envs, 2) or not np.all(np.isfinite(actions)):
            raise ValueError(f"actions must be finite with shape ({self.num_envs}, 2), got shape {actions.shape}")
        stale = self._needs_reset.copy()
        np.clip(self._state[:, self._qvel], -MAX_JOINT_VELOCITY, MAX_JOINT_VELOCITY, out=self._state[:, self._qvel])
        controls = np.clip(actions, -1.0, 1.0)[:, None, :]
        self._rollout.rollout(
            self._models, self._datas, self._state, controls, nstep=1, state=self._next_state, skip_checks=True
        )
        self._state[:] = self._next_state[:, 0]
        self._elapsed += 1

        distance = np.linalg.norm(self._state[:, self._qpos] - self._goals, axis=1)
        success = distance <= SUCCESS_RADIUS  # False where the goal is NaN
        truncated = (self._elapsed >= self.max_episode_steps) & ~success
        if self.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP and stale.any():
            self._reset_envs(stale)
            success[stale] = truncated[stale] = False
        self._needs_reset = success | truncated
        return (self._observations(), success.astype(np.float64), success, truncated, self._infos(success))

    def _observations(self) -> np.ndarray:
        return self._state[:, 1:].astype(np.float32)

    def _infos(self, success: np.ndarray) -> dict:
        return {"success": success.copy(), "_success": np.ones(self.num_envs, dtype=bool)}

    def close_extras(self, **kwargs):
        self._rollout.close()
