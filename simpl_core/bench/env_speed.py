"""Env throughput on the same MuJoCo model: raw mj_step, the single Gymnasium env, and the batched env.

Rates are env steps per second. One env step is `physics_steps` mj_steps (maze 1, kitchen 40), so the raw rate is
mj_steps/s divided by that: the speed the env would have if stepping the physics were all it did.
"""

from __future__ import annotations

import time

import gymnasium
import mujoco
import numpy as np

from simpl_core.envs import KITCHEN_ENV_ID, MAZE_ENV_ID, make_vector_env

# domain -> (registered env id, a task to run, physics steps per env step)
SETUPS = {
    "maze": (MAZE_ENV_ID, [12, 7], 1),
    "kitchen": (KITCHEN_ENV_ID, "microwave,kettle,light switch,slide cabinet", 40),
}
RAW, SINGLE = "raw mujoco.mj_step", "single env (gymnasium.make)"


def _rate(steps: int, seconds: float) -> float:
    return steps / seconds


def raw_mj_step(model: mujoco.MjModel, env_steps: int, physics_steps: int) -> float:
    data = mujoco.MjData(model)
    mujoco.mj_resetData(model, data)
    start = time.perf_counter()
    for _ in range(env_steps * physics_steps):
        mujoco.mj_step(model, data)
    return _rate(env_steps, time.perf_counter() - start)


def single_env(env_id: str, task, steps: int, seed: int) -> float:
    """gymnasium.make(...) with its standard wrappers, random actions, resets included."""
    env = gymnasium.make(env_id, task=task)
    env.reset(seed=seed)
    actions = np.random.default_rng(seed).uniform(-1, 1, (steps, *env.action_space.shape)).astype(np.float32)
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    rate = _rate(steps, time.perf_counter() - start)
    env.close()
    return rate


def batched_env(domain: str, task, num_envs: int, steps: int, seed: int) -> float:
    env = make_vector_env(domain, num_envs, max_episode_steps=10**9)
    env.reset(seed=seed, options={"tasks": [task] * num_envs})
    rounds = max(1, steps // num_envs)
    actions = np.random.default_rng(seed).uniform(-1, 1, (rounds, *env.action_space.shape)).astype(np.float32)
    start = time.perf_counter()
    for action in actions:
        env.step(action)
    rate = _rate(rounds * num_envs, time.perf_counter() - start)
    env.close()
    return rate


def run(domain: str = "maze", steps: int = 200_000, batch_sizes=(16, 64, 256), seed: int = 0) -> dict[str, float]:
    """Steps per second of each path, keyed by a readable name."""
    env_id, task, physics_steps = SETUPS[domain]
    model = gymnasium.make(env_id).unwrapped.model
    results = {RAW: raw_mj_step(model, steps, physics_steps), SINGLE: single_env(env_id, task, steps, seed)}
    for size in batch_sizes:
        results[f"batched {domain} env x{size}"] = batched_env(domain, task, size, steps, seed)
    return results


def format_results(results: dict[str, float]) -> str:
    raw, single = results[RAW], results[SINGLE]
    lines = [f"{'path':32s} {'steps/s':>12s} {'vs raw':>8s} {'vs single':>10s}"]
    for name, rate in results.items():
        lines.append(f"{name:32s} {rate:12,.0f} {rate / raw:8.2f} {rate / single:10.2f}")
    return "\n".join(lines)
