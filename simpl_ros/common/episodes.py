"""High-level transitions from the live graph: the same rows as simpl_core's batched rollouts build in training.

The sim's step messages and the selector's skill messages arrive on two topics, so their order between topics is not
guaranteed; the recorder keeps both per episode and packs the transitions once the episode has ended. A skill chosen
at step t covers steps t+1 ... t' (t' = the next skill's step or the episode's last step): the transition is
(s_t, z, sum of rewards over t+1..t', terminated at t', s_t'), with truncation not counted as done.
"""

from __future__ import annotations

import numpy as np

from simpl_core.rl.buffers import TransitionLayout
from simpl_ros.common.messages import Step


class EpisodeRecorder:
    """Step and skill messages by episode (a skill of the next episode may come before this one's last steps)."""

    def __init__(self, layout: TransitionLayout, skill_horizon: int):
        self.layout = layout
        self.skill_horizon = skill_horizon  # a skill covers this many steps; a longer segment lost the next skill
        self.steps: dict[int, dict[int, Step]] = {}
        self.skills: dict[int, dict[int, np.ndarray]] = {}

    def add_step(self, step: Step) -> None:
        self.steps.setdefault(step.episode, {})[step.step] = step

    def add_skill(self, episode: int, step: int, z) -> None:
        self.skills.setdefault(episode, {})[step] = np.asarray(z, np.float32)

    def ended(self, episode: int) -> bool:
        return any(step.ended for step in self.steps.get(episode, {}).values())

    def pop(self, episode: int) -> np.ndarray:
        """The ended episode's high-level transitions (rows x layout.width), forgetting its messages; segments with
        a missing step message, or longer than a skill (the next skill's message was lost, and the decoder held
        zero meanwhile), are left out (a lossy link), never invented."""
        steps, skills = self.steps.pop(episode, {}), self.skills.pop(episode, {})
        end = max(steps, default=0)
        starts = sorted(t for t in skills if t < end)
        rows = []
        for start, stop in zip(starts, [*starts[1:], end]):
            segment = [steps.get(t) for t in range(start, stop + 1)]
            if stop - start > self.skill_horizon or any(s is None for s in segment):
                continue
            reward = sum(s.reward for s in segment[1:])
            rows.append(
                self.layout.pack(
                    segment[0].observation,
                    skills[start],
                    reward,
                    float(segment[-1].terminated),
                    segment[-1].observation,
                )
            )
        return np.stack(rows) if rows else np.zeros((0, self.layout.width), np.float32)
