"""`simpl skills eval-prior`: is the skill prior any good? Roll out the frozen prior as the high-level policy (a new
z ~ p(z | s) every K steps, decoded closed-loop) from the task start and measure where it goes (SPiRL's "prior
rollouts" check). Runs on the exported bundle, i.e. on exactly what the robot would run. Maze: coverage and goals
reached; kitchen: which subtasks the prior alone completes (read from the object joints of the observations)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from simpl_core.data.inspect import subtask_order
from simpl_core.envs import make_vector_env
from simpl_core.envs.kitchen.task import SUBTASKS
from simpl_core.envs.maze.env import DEFAULT_START
from simpl_core.envs.maze.layout import MazeLayout
from simpl_core.envs.maze.task import SUCCESS_RADIUS
from simpl_core.runtime.bundle import PolicyBundle
from simpl_core.tasks import builtin_task_sets


@dataclass
class PriorRollouts:
    trajectories: np.ndarray
    """(episodes, steps + 1, state_dim)"""
    skills_per_episode: int


def rollout_prior(bundle: PolicyBundle, episodes: int, steps: int, seed: int = 0) -> PriorRollouts:
    """Task-agnostic episodes of the bundle's domain driven by the prior; all episodes stepped together."""
    rng = np.random.default_rng(seed)
    env = make_vector_env(bundle.manifest["domain"], episodes, max_episode_steps=steps + 1)
    obs, _ = env.reset(seed=seed)
    trajectory = [obs]
    z = None
    for t in range(steps):
        if t % bundle.skill_horizon == 0:
            mean, log_std = bundle.prior(obs)
            z = mean + np.exp(log_std) * rng.standard_normal(mean.shape).astype(np.float32)
        obs, *_ = env.step(bundle.clip_action(bundle.decode(obs, z)))
        trajectory.append(obs)
    env.close()
    return PriorRollouts(np.stack(trajectory, axis=1), steps // bundle.skill_horizon)


def maze_prior_report(rollouts: PriorRollouts, layout: MazeLayout) -> dict:
    """Coverage of the reachable cells, distance travelled, and how often the goals of each maze task set get
    within the success radius at some point of an episode."""
    positions = rollouts.trajectories[..., :2]
    reachable = {tuple(c) for c in layout.reachable_cells(DEFAULT_START)}
    cells = np.rint(positions.reshape(-1, 2)).astype(int)
    visited = {tuple(c) for c in np.unique(cells, axis=0)} & reachable
    per_episode = [len({tuple(c) for c in np.unique(np.rint(p).astype(int), axis=0)} & reachable) for p in positions]
    report = {
        "episodes": len(positions),
        "steps_per_episode": positions.shape[1] - 1,
        "coverage_all_episodes": len(visited) / len(reachable),
        "cells_per_episode_mean": float(np.mean(per_episode)),
        "path_length_mean": float(np.linalg.norm(np.diff(positions, axis=1), axis=2).sum(1).mean()),
        "final_distance_from_start_mean": float(np.linalg.norm(positions[:, -1] - DEFAULT_START, axis=1).mean()),
        "goal_sets": {},
    }
    for name, task_set in builtin_task_sets().items():
        if task_set.domain != "maze":
            continue
        goals = np.array([task.goal for task in task_set.tasks], dtype=float)
        distance = np.linalg.norm(positions[:, :, None, :] - goals[None, None], axis=3).min(axis=1)  # (eps, goals)
        reached = distance <= SUCCESS_RADIUS
        report["goal_sets"][name] = {
            "reach_rate": float(reached.mean()),
            "goals_reached_at_least_once": f"{int(reached.any(0).sum())}/{len(goals)}",
        }
    return report


def kitchen_prior_report(rollouts: PriorRollouts) -> dict:
    """How often each subtask gets done at some point of an episode, subtasks per episode, and the commonest
    completion orders."""
    orders = [subtask_order(trajectory) for trajectory in rollouts.trajectories]
    return {
        "episodes": len(orders),
        "steps_per_episode": rollouts.trajectories.shape[1] - 1,
        "subtask_rate": {name: float(np.mean([name in order for order in orders])) for name in SUBTASKS},
        "subtasks_per_episode_mean": float(np.mean([len(order) for order in orders])),
        "common_orders": {
            ",".join(order) or "(none)": count
            for order, count in Counter(tuple(order) for order in orders).most_common(5)
        },
    }
