"""A kitchen task is an ordered sequence of 4 distinct subtasks of FrankaKitchen-v1, rewarded as in SiMPL (D4RL):
each step the sequence is walked in order from the first subtask not yet credited, and every subtask that is
complete *now* is credited (+1) until the first one that is not. So a subtask done early is credited once all earlier
ones are done, provided it is still done then. The episode ends when all 4 are credited.

A subtask is complete when its object joints are within 0.3 (L2) of their goal (Gymnasium-Robotics' own goals and
threshold, read from its module so the two never disagree). Completion is tested on the noise-free joint positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simpl_core.envs.kitchen.base import BONUS_THRESH, OBS_ELEMENT_GOALS, OBS_ELEMENT_INDICES

SUBTASKS = tuple(OBS_ELEMENT_GOALS)  # microwave, kettle, bottom burner, top burner, light switch, slide/hinge cabinet
SEQUENCE_LENGTH = 4


def completed_subtasks(qpos: np.ndarray) -> frozenset[str]:
    """The subtasks whose object joints are within the threshold of their goal in this (full, noise-free) qpos."""
    return frozenset(
        name
        for name in SUBTASKS
        if np.linalg.norm(qpos[OBS_ELEMENT_INDICES[name]] - OBS_ELEMENT_GOALS[name]) < BONUS_THRESH
    )


@dataclass(frozen=True)
class KitchenTask:
    subtasks: tuple[str, ...]

    @property
    def name(self) -> str:
        return ",".join(self.subtasks)

    def to_raw(self) -> list[str]:
        return list(self.subtasks)

    def credit(self, credited: int, done: frozenset[str]) -> int:
        """How many subtasks are credited after this step, given `credited` before it and the subtasks `done` now."""
        while credited < len(self.subtasks) and self.subtasks[credited] in done:
            credited += 1
        return credited


def parse_kitchen_task(raw) -> KitchenTask:
    """A task from its YAML form: a list of 4 distinct subtask names, or one comma-separated string of them."""
    names = [part.strip() for part in raw.split(",")] if isinstance(raw, str) else raw
    if not isinstance(names, (list, tuple)) or not all(isinstance(name, str) for name in names):
        raise ValueError(f"a kitchen task is a list of {SEQUENCE_LENGTH} subtask names, got {raw!r}")
    unknown = [name for name in names if name not in SUBTASKS]
    if unknown:
        raise ValueError(
            f"unknown kitchen subtask(s) {', '.join(map(repr, unknown))}; the subtasks are: {', '.join(SUBTASKS)}"
        )
    if len(names) != SEQUENCE_LENGTH or len(set(names)) != len(names):
        raise ValueError(f"a kitchen task is {SEQUENCE_LENGTH} distinct subtasks, got {list(names)}")
    return KitchenTask(subtasks=tuple(names))
