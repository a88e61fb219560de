"""Batched kitchen: Gymnasium's SyncVectorEnv of KitchenEnvs, with one task per sub-env.

FrankaKitchen computes its position targets in Python every step, so the sub-envs are stepped one after another
(about 2.8 ms each); `reset(options={"tasks": [...]})` gives each sub-env (or each one in `reset_mask`) its task.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.wrappers import TimeLimit

from simpl_core.envs.kitchen.env import KITCHEN_HORIZON, KitchenEnv


def _make(max_episode_steps: int) -> TimeLimit:
    return TimeLimit(KitchenEnv(), max_episode_steps=max_episode_steps)


class KitchenVectorEnv(SyncVectorEnv):
    def __init__(self, num_envs: int, tasks=None, max_episode_steps: int = KITCHEN_HORIZON,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        super().__init__([partial(_make, max_episode_steps)] * num_envs, copy=True,
                         autoreset_mode=AutoresetMode(autoreset_mode))
        if tasks is not None:
            self.set_tasks(tasks)

    def set_tasks(self, tasks, mask: np.ndarray | None = None) -> None:
        """Give each sub-env (or each one where mask is True) its task: a KitchenTask, 4 subtask names or None."""
        indices = np.flatnonzero(np.ones(self.num_envs, dtype=bool) if mask is None else mask)
        tasks = list(tasks)
        if len(tasks) != len(indices):
            raise ValueError(f"expected {len(indices)} tasks (one per env being set), got {len(tasks)}")
        for i, task in zip(indices, tasks):
            self.envs[i].unwrapped.set_task(task)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        options = dict(options or {})
        if "tasks" in options:
            self.set_tasks(options.pop("tasks"), options.get("reset_mask"))
        return super().reset(seed=seed, options=options)
