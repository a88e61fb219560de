"""Batched kitchen: many FrankaKitchen episodes stepped at once through `mujoco.rollout` (the 40 physics steps of
every env in one C call on a thread pool), behind Gymnasium's VectorEnv API.

The env's own step is reproduced in numpy for all envs together: the action becomes position targets
clip(last observed robot qpos + 2 * clip(a) * dt, position bounds), held for 40 physics steps; observations get the
same uniform noise as the base env. Bounds, noise amplitudes and the reset state are read from a real KitchenEnv, so
the two cannot drift apart. Each sub-env has its own task (SiMPL's in-order credit, task.py). Autoreset follows
Gymnasium: NEXT_STEP (default) or DISABLED (the caller resets with `reset(options={"reset_mask": mask, ...})`).
Physics differ from the single env only by the solver's warm start, which the rollout does not carry between steps.
"""

from __future__ import annotations

import mujoco
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from simpl_core.envs.batching import per_env, pop_reset_mask, rollout_pool
from simpl_core.envs.kitchen.env import (
    KITCHEN_HORIZON,
    KitchenEnv,
    action_space,
    as_task,
    observation_space,
    state_from_observation,
)
from simpl_core.envs.kitchen.task import completed_subtasks

_STATE_SPEC = mujoco.mjtState.mjSTATE_FULLPHYSICS  # time, qpos, qvel, act, ...: what a rollout starts from
ROBOT_DOFS = 9  # arm + fingers come first in qpos and qvel


class KitchenVectorEnv(VectorEnv):
    def __init__(
        self,
        num_envs: int,
        tasks=None,
        max_episode_steps: int = KITCHEN_HORIZON,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        num_threads: int | None = None,
    ):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs, self.max_episode_steps = num_envs, max_episode_steps
        self.metadata = {"autoreset_mode": AutoresetMode(autoreset_mode)}
        self.single_observation_space, self.single_action_space = observation_space(), action_space()
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._read_env_constants(KitchenEnv())
        self._state = np.tile(self._reset_state, (num_envs, 1))
        self._next_state = np.zeros((num_envs, self._frame_skip, len(self._reset_state)))
        self._last_robot_qpos = np.zeros((num_envs, ROBOT_DOFS))  # noisy, as the base env re-bases its targets on
        self._observation = np.zeros((num_envs, self.single_observation_space.shape[0]), dtype=np.float32)
        self._tasks, self._credited = [None] * num_envs, np.zeros(num_envs, dtype=np.int64)
        self._elapsed = np.zeros(num_envs, dtype=np.int64)
        self._needs_reset = np.zeros(num_envs, dtype=bool)
        self._rng = np.random.default_rng()
        self._datas, self._rollout = rollout_pool(self.model, num_threads)
        if tasks is not None:
            self.set_tasks(tasks)

    def _read_env_constants(self, env: KitchenEnv) -> None:
        robot = env.base.robot_env
        self.model, self._frame_skip, self._dt = env.model, robot.frame_skip, robot.dt
        self._position_bound, self._velocity_bound = (
            robot.robot_pos_bound[:ROBOT_DOFS],
            robot.robot_vel_bound[:ROBOT_DOFS],
        )
        self._action_scale = robot.act_rng
        object_ratio = env.base.object_noise_ratio
        self._noise = np.concatenate(
            [
                robot.robot_noise_ratio * robot.robot_pos_noise_amp[:ROBOT_DOFS],
                robot.robot_noise_ratio * robot.robot_vel_noise_amp[:ROBOT_DOFS],
                object_ratio * robot.robot_pos_noise_amp[ROBOT_DOFS - 1 :],
                object_ratio * robot.robot_vel_noise_amp[ROBOT_DOFS:],
            ]
        )
        env.reset(seed=0)
        self._reset_state = np.zeros(mujoco.mj_stateSize(self.model, _STATE_SPEC))
        mujoco.mj_getState(self.model, env.data, self._reset_state, _STATE_SPEC)
        nq, nv = self.model.nq, self.model.nv
        self._qpos, self._qvel = slice(1, 1 + nq), slice(1 + nq, 1 + nq + nv)
        env.close()

    def set_tasks(self, tasks, mask: np.ndarray | None = None) -> None:
        """Give each env (or each env where mask is True) its task: a KitchenTask, 4 subtask names or None."""
        for i, task in per_env(tasks, mask, self.num_envs):
            self._tasks[i], self._credited[i] = as_task(task), 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Reset all envs, or those in options['reset_mask']; options may carry 'tasks' (one per env reset) and
        'observations' (one 59-D observation per env reset: start from the state it shows, e.g. a demonstration's)."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        options = dict(options or {})
        mask = pop_reset_mask(options, self.num_envs)
        if "tasks" in options:
            self.set_tasks(options["tasks"], mask)
        self._reset_envs(mask, options.get("observations"))
        return self._observation.copy(), self._infos(np.zeros(self.num_envs, dtype=bool))

    def _reset_envs(self, mask: np.ndarray, observations: np.ndarray | None = None) -> None:
        self._state[mask] = self._reset_state
        if observations is not None:
            observations = np.asarray(observations, dtype=np.float64)
            if observations.shape != (int(mask.sum()), self.single_observation_space.shape[0]):
                raise ValueError(
                    f"options['observations'] must have shape ({int(mask.sum())}, "
                    f"{self.single_observation_space.shape[0]}), one per env reset; got "
                    f"{observations.shape}"
                )
            rows = np.flatnonzero(mask)
            self._state[rows, self._qpos], self._state[rows, self._qvel] = state_from_observation(observations)
        self._credited[mask] = 0
        self._elapsed[mask] = 0
        self._needs_reset[mask] = False
        self._observe(mask)

    def _observe(self, mask: np.ndarray) -> None:
        """Noisy observations of the envs in mask, as the base env makes them; keeps the robot qpos it saw."""
        state = self._state[mask]
        true = np.concatenate(
            [
                state[:, self._qpos][:, :ROBOT_DOFS],
                state[:, self._qvel][:, :ROBOT_DOFS],
                state[:, self._qpos][:, ROBOT_DOFS:],
                state[:, self._qvel][:, ROBOT_DOFS:],
            ],
            axis=1,
        )
        noisy = true + self._noise * self._rng.uniform(-1.0, 1.0, true.shape)
        self._observation[mask] = noisy
        self._last_robot_qpos[mask] = noisy[:, :ROBOT_DOFS]

    def step(self, actions):
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != (self.num_envs, ROBOT_DOFS) or not np.all(np.isfinite(actions)):
            raise ValueError(
                f"actions must be finite with shape ({self.num_envs}, {ROBOT_DOFS}), got shape {actions.shape}"
            )
        stale = self._needs_reset.copy()
        velocity = np.clip(np.clip(actions, -1.0, 1.0) * self._action_scale, *self._velocity_bound.T)
        targets = np.clip(self._last_robot_qpos + velocity * self._dt, *self._position_bound.T)
        controls = np.repeat(targets[:, None, :], self._frame_skip, axis=1)
        self._rollout.rollout(
            [self.model] * self.num_envs,
            self._datas,
            self._state,
            controls,
            nstep=self._frame_skip,
            state=self._next_state,
            skip_checks=True,
        )
        self._state[:] = self._next_state[:, -1]
        self._elapsed += 1
        self._observe(np.ones(self.num_envs, dtype=bool))
        rewards, terminated = self._credit()
        truncated = (self._elapsed >= self.max_episode_steps) & ~terminated
        if self.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP and stale.any():
            self._reset_envs(stale)
            rewards[stale], terminated[stale], truncated[stale] = 0.0, False, False
        self._needs_reset = terminated | truncated
        return self._observation.copy(), rewards, terminated, truncated, self._infos(terminated)

    def _credit(self) -> tuple[np.ndarray, np.ndarray]:
        """SiMPL's in-order credit of every env with a task: the reward of this step and whether all are done."""
        rewards, terminated = np.zeros(self.num_envs), np.zeros(self.num_envs, dtype=bool)
        for i, task in enumerate(self._tasks):
            if task is None:
                continue
            credited = task.credit(int(self._credited[i]), completed_subtasks(self._state[i, self._qpos]))
            rewards[i], self._credited[i] = credited - self._credited[i], credited
            terminated[i] = credited == len(task.subtasks)
        return rewards, terminated

    def _infos(self, success: np.ndarray) -> dict:
        return {
            "success": success.copy(),
            "_success": np.ones(self.num_envs, dtype=bool),
            "credited": self._credited.copy(),
            "_credited": np.ones(self.num_envs, dtype=bool),
        }

    def close_extras(self, **kwargs):
        self._rollout.close()
