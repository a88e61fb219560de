"""Batched hierarchical rollouts: a high-level policy picks a skill z every K env steps (at t = 0, K, 2K, ...),
the frozen decoder turns (s_t, z) into an action at every step, and each finished K-step segment becomes one
high-level transition (s, z, sum of rewards, done, s'). Time-limit truncation is not `done` (the critic bootstraps).
All episodes of a wave run side by side in one vector env."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simpl_core.rl.buffers import TransitionLayout

SkillPolicy = Callable[[np.ndarray, np.ndarray | None], np.ndarray]  # (states, conds) -> z
SkillDecoder = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (states, z) -> clipped actions
ReachTest = Callable[[np.ndarray], np.ndarray]  # (observations) -> (len, goals) bool: which goals each has reached


@dataclass
class HighLevelEpisode:
    rows: np.ndarray
    """(T_high, layout.width) transitions"""
    episode_return: float
    success: bool
    """ended by termination (maze: goal reached)"""
    env_steps: int
    reached: np.ndarray | None = None
    """(T_high, goals) bool, with a reach test: which goals each skill reached at some env step (hindsight
    relabelling)"""


def rollout_wave(
    env,
    tasks: list,
    policy: SkillPolicy,
    decoder: SkillDecoder,
    layout: TransitionLayout,
    skill_horizon: int,
    conds: np.ndarray | None = None,
    seed: int | None = None,
    reach_test: ReachTest | None = None,
) -> list[HighLevelEpisode]:
    """One episode per task, all at once (env.num_envs == len(tasks), env created with autoreset DISABLED).
    With a reach test, each transition also records which of its goals the skill reached on the way."""
    count = len(tasks)
    obs, _ = env.reset(seed=seed, options={"tasks": list(tasks)})
    active = np.ones(count, dtype=bool)
    rows: list[list[np.ndarray]] = [[] for _ in range(count)]
    returns, steps = np.zeros(count), np.zeros(count, dtype=np.int64)
    success = np.zeros(count, dtype=bool)
    segment_start, segment_reward = obs.copy(), np.zeros(count)
    reached: list[list[np.ndarray]] = [[] for _ in range(count)]
    segment_reached = False  # becomes (count, goals) bool at the first step with a reach test
    z = np.zeros((count, layout.latent_dim), dtype=np.float32)
    t = 0
    while active.any():
        if t % skill_horizon == 0:
            segment_start, segment_reward = obs.copy(), np.zeros(count)
            segment_reached = False
            z = policy(obs, conds).astype(np.float32)
        actions = decoder(obs, z)
        actions[~active] = 0.0
        obs, reward, terminated, truncated, _ = env.step(actions)
        t += 1
        reward = np.where(active, reward, 0.0)
        segment_reward += reward
        returns += reward
        steps += active
        if reach_test is not None:
            segment_reached = segment_reached | (reach_test(obs) & active[:, None])
        ended = active & (terminated | truncated)
        success |= active & terminated
        closing = ended | (active & (t % skill_horizon == 0))
        for i in np.flatnonzero(closing):
            rows[i].append(layout.pack(segment_start[i], z[i], segment_reward[i], bool(terminated[i]), obs[i]))
            if reach_test is not None:
                reached[i].append(segment_reached[i])
        active &= ~ended
    return [
        HighLevelEpisode(np.stack(r), float(ret), bool(ok), int(n), np.stack(hit) if hit else None)
        for r, ret, ok, n, hit in zip(rows, returns, success, steps, reached)
    ]
