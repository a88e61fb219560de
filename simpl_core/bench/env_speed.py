"""Env throughput on the same MuJoCo model: raw mj_step, the single Gymnasium env, and the batched env."""

from __future__ import annotations

import time

import gymnasium
import mujoco
import numpy as np

import simpl_core.envs  # noqa: F401  (registers the simpl/ env ids)
from simpl_core.envs import MAZE_ENV_ID
from simpl_core.envs.maze.vector import MazeVectorEnv


def _rate(steps: int, seconds: float) -> float:
    return steps / seconds


def raw_mj_step(model: mujoco.MjModel, steps: int) -> float:
    data = mujoco.MjData(model)
    data.qpos[:] = 10.0
    start = time.perf_counter()
    for _ in range(steps):
        mujoco.mj_step(model, data)
    return _rate(steps, time.perf_counter() - start)


def single_env(steps: int, seed: int) -> float:
    """gymnasium.make(...) with its standard wrappers, random actions, resets included."""
    env = gymnasium.make(MAZE_ENV_ID, task=[12, 7])
    env.reset(seed=seed)
    actions = np.random.default_rng(seed).uniform(-1, 1, (steps, 2)).astype(np.float32)
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    rate = _rate(steps, time.perf_counter() - start)
    env.close()
    return rate


def batched_env(num_envs: int, steps: int, seed: int) -> float:
    env = MazeVectorEnv(num_envs, tasks=[[12, 7]] * num_envs)
    env.reset(seed=seed)
    rounds = max(1, steps // num_envs)
    actions = np.random.default_rng(seed).uniform(-1, 1, (rounds, num_envs, 2)).astype(np.float32)
    start = time.perf_counter()
    for action in actions:
        env.step(action)
    rate = _rate(rounds * num_envs, time.perf_counter() - start)
    env.close()
    return rate


def run(steps: int = 200_000, batch_sizes=(16, 64, 256), seed: int = 0) -> dict[str, float]:
    """Steps per second of each path, keyed by a readable name."""
    model = gymnasium.make(MAZE_ENV_ID).unwrapped.model
    results = {"raw mujoco.mj_step": raw_mj_step(model, steps), "single env (gymnasium.make)": single_env(steps, seed)}
    for size in batch_sizes:
        results[f"batched MazeVectorEnv x{size}"] = batched_env(size, steps, seed)
    return results


def format_results(results: dict[str, float]) -> str:
    raw = results["raw mujoco.mj_step"]
    single = results["single env (gymnasium.make)"]
    lines = [f"{'path':32s} {'steps/s':>12s} {'vs raw':>8s} {'vs single':>10s}"]
    for name, rate in results.items():
        lines.append(f"{name:32s} {rate:12,.0f} {rate / raw:8.2f} {rate / single:10.2f}")
    return "\n".join(lines)
