"""Hindsight task relabelling (Packer et al. 2021, "Hindsight Task Relabelling: Experience Replay for Sparse Reward
Meta-RL"), a deviation from SiMPL for goal tasks, off by default (`relabel_fraction: 0`).

With one sparse reward per successful episode a task's buffers hold few rewards, and each task's critic targets come
from that task's own trajectories only, so Q can explain most of the value by the state and never learn to depend on
e. Relabelling draws a share of every context and RL batch of task j from all tasks' transitions, with reward and
done saying whether the skill reached j's goal: the same transition is then rewarded for one goal and not for another,
which Q can only fit through e. It needs each task's reward as a test on the state (the maze's goals); it is used in
meta-training only, never on a target task, whose reward is unknown.
"""

from __future__ import annotations

import numpy as np

from simpl_core.rl.buffers import EpisodeBuffer, TransitionLayout


def reach_test_for(tasks: list):
    """The reach test of a goal task set (the maze's), or a ValueError that says why these tasks cannot be
    relabelled."""
    from simpl_core.envs.maze.task import MazeTask, goals_reached

    if not all(isinstance(task, MazeTask) for task in tasks):
        raise ValueError(
            "relabel_fraction > 0 needs goal tasks whose reward is a test on the state (maze goals); "
            f"{type(tasks[0]).__name__} rewards depend on the episode's history"
        )
    return goals_reached(tasks)


class RelabelPool:
    """Every task's transitions (oldest episodes evicted first), each with which of the tasks' goals its skill
    reached; a draw for task j carries j's reward and done."""

    def __init__(self, capacity: int, layout: TransitionLayout, num_tasks: int):
        self.layout, self.num_tasks = layout, num_tasks
        self.buffer = EpisodeBuffer(capacity, layout.width + num_tasks)

    def __len__(self) -> int:
        return len(self.buffer)

    def add(self, rows: np.ndarray, reached: np.ndarray) -> None:
        if reached is None or reached.shape != (len(rows), self.num_tasks):
            raise ValueError(f"relabelling needs a ({len(rows)}, {self.num_tasks}) reach mask per episode")
        self.buffer.add(np.concatenate([rows, reached.astype(np.float32)], axis=1))

    def sample(self, task: int, count: int, rng: np.random.Generator) -> np.ndarray:
        """`count` transitions of any task, rewarded (and done) where the skill reached `task`'s goal."""
        drawn = self.buffer.sample(count, rng)
        rows, reached = drawn[:, : self.layout.width].copy(), drawn[:, self.layout.width + task]
        columns = self.layout.unpack(rows)
        columns["reward"][:] = reached  # views into rows
        columns["done"][:] = reached
        return rows

    def state_dict(self) -> dict:
        return self.buffer.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.buffer.load_state_dict(state)


class RelabelledBuffer:
    """One task's buffer as `Simpl.update` samples it: a `fraction` of every draw comes from the pool, relabelled."""

    def __init__(self, own: EpisodeBuffer, pool: RelabelPool, task: int, fraction: float):
        self.own, self.pool, self.task, self.fraction = own, pool, task, fraction

    def __len__(self) -> int:
        return len(self.own)

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        relabelled = int(round(self.fraction * count))
        return np.concatenate([self.own.sample(count - relabelled, rng), self.pool.sample(self.task, relabelled, rng)])


def relabelled(buffers: list[EpisodeBuffer], pool: RelabelPool | None, fraction: float) -> list:
    """The buffers as meta-training draws from them: themselves without a pool, else each mixed with the pool."""
    if pool is None:
        return buffers
    return [RelabelledBuffer(buffer, pool, task, fraction) for task, buffer in enumerate(buffers)]
