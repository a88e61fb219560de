"""Task-agnostic maze data: planner runs between random cells.

Each episode starts in a random free cell and heads for a random goal cell along a shortest grid path. A PD
controller steers toward the next cell centre on the path: action = clip(10 (waypoint - pos) - vel) plus Gaussian
noise. The episode ends when the ball is within the success radius of its goal or after 2000 steps. Nothing
task-specific is recorded: rewards are zeros and no goal is stored. Episodes run in parallel on MazeVectorEnv.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium.vector import AutoresetMode
from tqdm import tqdm

from simpl_core.data.minari_io import Episode
from simpl_core.envs.maze.env import DEFAULT_START
from simpl_core.envs.maze.layout import DEFAULT_LAYOUT, MazeLayout
from simpl_core.envs.maze.vector import MazeVectorEnv


@dataclass
class PlannerConfig:
    transitions: int = 500_000
    """stop once this many transitions are recorded (None: use `episodes`)"""
    episodes: int | None = None
    """or stop after this many episodes"""
    num_envs: int = 64
    """episodes stepped in parallel"""
    action_noise: float = 0.1
    """std of the Gaussian noise added to the PD action"""
    position_gain: float = 10.0
    """PD: action = gain * (waypoint - pos) - damping * vel"""
    velocity_damping: float = 1.0
    waypoint_radius: float = 0.3
    """move on to the next path cell once this close to the current one"""
    min_path_cells: int = 4
    """goal at least this many grid steps from the start (no trivial episodes)"""
    max_steps: int = 2000
    """episode horizon, as in the tasks"""
    layout: str = DEFAULT_LAYOUT
    seed: int = 0


@dataclass
class PlannerStats:
    episodes: int = 0
    transitions: int = 0
    reached_goal: int = 0


class _EpisodeRecorder:
    """Accumulates one env's observations and actions until its episode ends."""

    def __init__(self, first_obs: np.ndarray):
        self.observations = [first_obs]
        self.actions: list[np.ndarray] = []

    def add(self, action: np.ndarray, next_obs: np.ndarray) -> None:
        self.actions.append(action)
        self.observations.append(next_obs)

    def finish(self, terminated: bool) -> Episode:
        steps = len(self.actions)
        terminations = np.zeros(steps, dtype=bool)
        truncations = np.zeros(steps, dtype=bool)
        (terminations if terminated else truncations)[-1] = True
        return Episode(
            observations=np.stack(self.observations),
            actions=np.stack(self.actions),
            rewards=np.zeros(steps),
            terminations=terminations,
            truncations=truncations,
        )


def _sample_route(
    cells: np.ndarray, layout: MazeLayout, rng: np.random.Generator, min_cells: int
) -> list[tuple[int, int]]:
    while True:
        start, goal = cells[rng.integers(len(cells), size=2)]
        path = layout.shortest_path(start, goal)
        if len(path) > min_cells:
            return path


def generate_maze_episodes(cfg: PlannerConfig, progress: bool = True) -> tuple[list[Episode], PlannerStats]:
    if cfg.transitions is None and cfg.episodes is None:
        raise ValueError("set a number of transitions or of episodes")
    layout = MazeLayout.load(cfg.layout)
    rng = np.random.default_rng(cfg.seed)
    cells = layout.reachable_cells(DEFAULT_START)
    env = MazeVectorEnv(
        cfg.num_envs, layout=layout, max_episode_steps=cfg.max_steps, autoreset_mode=AutoresetMode.DISABLED
    )
    max_path = layout.shape[0] * layout.shape[1]
    paths = np.zeros((cfg.num_envs, max_path, 2))
    path_len = np.zeros(cfg.num_envs, dtype=np.int64)
    waypoint = np.zeros(cfg.num_envs, dtype=np.int64)

    def new_routes(mask: np.ndarray) -> dict:
        routes = [_sample_route(cells, layout, rng, cfg.min_path_cells) for _ in range(int(mask.sum()))]
        for i, route in zip(np.flatnonzero(mask), routes):
            paths[i, : len(route)] = route
            path_len[i] = len(route)
            waypoint[i] = 1
        return {"reset_mask": mask, "start_cells": [r[0] for r in routes], "tasks": [list(r[-1]) for r in routes]}

    all_envs = np.ones(cfg.num_envs, dtype=bool)
    obs, _ = env.reset(seed=cfg.seed, options=new_routes(all_envs))
    recorders = [_EpisodeRecorder(o) for o in obs]
    episodes: list[Episode] = []
    stats = PlannerStats()
    total = cfg.transitions if cfg.episodes is None else cfg.episodes
    bar = tqdm(
        total=total, unit="step" if cfg.episodes is None else "episode", disable=not progress, desc="maze planner data"
    )
    while (stats.transitions < cfg.transitions) if cfg.episodes is None else (stats.episodes < cfg.episodes):
        position, velocity = obs[:, :2].astype(np.float64), obs[:, 2:].astype(np.float64)
        rows = np.arange(cfg.num_envs)
        near = np.linalg.norm(paths[rows, waypoint] - position, axis=1) < cfg.waypoint_radius
        waypoint = np.minimum(waypoint + near, path_len - 1)
        target = paths[rows, waypoint]
        action = np.clip(cfg.position_gain * (target - position) - cfg.velocity_damping * velocity, -1, 1)
        action = np.clip(action + rng.normal(0.0, cfg.action_noise, action.shape), -1, 1).astype(np.float32)
        obs, _, terminated, truncated, _ = env.step(action)
        for i in range(cfg.num_envs):
            recorders[i].add(action[i], obs[i])
        done = terminated | truncated
        if not done.any():
            continue
        for i in np.flatnonzero(done):
            episode = recorders[i].finish(bool(terminated[i]))
            episodes.append(episode)
            stats.episodes += 1
            stats.transitions += episode.length
            stats.reached_goal += int(terminated[i])
            bar.update(episode.length if cfg.episodes is None else 1)
        obs_reset, _ = env.reset(options=new_routes(done))
        obs = np.where(done[:, None], obs_reset, obs)  # a new array: recorded rows stay untouched
        for i in np.flatnonzero(done):
            recorders[i] = _EpisodeRecorder(obs[i])
    bar.close()
    env.close()
    return episodes, stats
