"""How often the scripted teleoperator gets the kitchen subtasks done, in the task-agnostic kitchen env.

Three protocols: each subtask alone from reset; SiMPL's 33 task sequences (23 train + 10 target) in their order; and
random orders of 4 distinct subtasks (what `simpl data kitchen` records). An episode ends when the operator is done,
when all its subtasks are complete, or at `max_steps`; a subtask counts when it is complete at some step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tqdm import tqdm

from simpl_core.envs.kitchen.env import KitchenEnv
from simpl_core.envs.kitchen.task import SUBTASKS, completed_subtasks
from simpl_core.tasks import resolve_tasks
from simpl_core.teleop.cartesian import CartesianController
from simpl_core.teleop.scripted import ScriptedTeleoperator, TeleopNoise


def run_episode(
    env: KitchenEnv, sequence: Sequence[str], rng: np.random.Generator, noise: TeleopNoise, max_steps: int
) -> tuple[set[str], int]:
    """The subtasks completed in one scripted episode, and its length in env steps."""
    env.reset(seed=int(rng.integers(2**31)))
    operator = ScriptedTeleoperator(env.model, env.data, sequence, rng, noise)
    controller = CartesianController(env.model, env.data)
    completed, steps = set(), 0
    while not operator.done and steps < max_steps and not set(sequence) <= completed:
        env.step(controller.action(operator.twist()))
        completed |= completed_subtasks(env.data.qpos)
        steps += 1
    return completed, steps


def measure_success(
    sequences: Sequence[Sequence[str]],
    episodes_per_sequence: int,
    seed: int = 0,
    noise: TeleopNoise = TeleopNoise(),
    max_steps: int = 500,
    progress: bool = True,
) -> dict:
    """Success per subtask name, per position in the sequence, and per sequence (all done; mean episode length)."""
    env = KitchenEnv()
    by_name: dict[str, list[bool]] = {}
    by_position: list[list[bool]] = [[] for _ in range(max(map(len, sequences)))]
    per_sequence = {}
    bar = tqdm(
        total=len(sequences) * episodes_per_sequence, unit="episode", desc="scripted teleop", disable=not progress
    )
    for index, sequence in enumerate(sequences):
        all_done, lengths = [], []
        for episode in range(episodes_per_sequence):
            rng = np.random.default_rng([seed, index, episode])
            completed, steps = run_episode(env, sequence, rng, noise, max_steps)
            for position, name in enumerate(sequence):
                by_name.setdefault(name, []).append(name in completed)
                by_position[position].append(name in completed)
            all_done.append(set(sequence) <= completed)
            lengths.append(steps)
            bar.update()
        per_sequence[",".join(sequence)] = {"success": float(np.mean(all_done)), "mean_steps": float(np.mean(lengths))}
    bar.close()
    return {
        "subtask_success": {name: float(np.mean(done)) for name, done in by_name.items()},
        "position_success": [float(np.mean(done)) for done in by_position],
        "sequences": per_sequence,
        "sequence_success": float(np.mean([s["success"] for s in per_sequence.values()])),
        "mean_steps": float(np.mean([s["mean_steps"] for s in per_sequence.values()])),
    }


def protocols(random_orders: int, seed: int) -> dict[str, list[list[str]]]:
    rng = np.random.default_rng(seed)
    spec = [
        list(task.subtasks) for name in ("kitchen-train-23", "kitchen-target-10") for task in resolve_tasks(name).tasks
    ]
    return {
        "alone": [[name] for name in SUBTASKS],
        "spec_sequences": spec,
        "random_orders": [[str(name) for name in rng.permutation(SUBTASKS)[:4]] for _ in range(random_orders)],
    }


def run(episodes: dict[str, int], random_orders: int = 10, seed: int = 0, max_steps: int = 500) -> dict[str, dict]:
    """Every protocol with its number of episodes per sequence (0 skips it)."""
    return {
        name: measure_success(sequences, episodes[name], seed=seed, max_steps=max_steps)
        for name, sequences in protocols(random_orders, seed).items()
        if episodes.get(name)
    }


def format_results(results: dict[str, dict]) -> str:
    lines = []
    for name, result in results.items():
        lines.append(
            f"{name}: all subtasks done in {result['sequence_success']:.1%} of episodes, "
            f"{result['mean_steps']:.0f} steps on average"
        )
        lines.append("  per subtask: " + ", ".join(f"{k} {v:.0%}" for k, v in result["subtask_success"].items()))
        if name != "alone":
            lines.append("  per position: " + ", ".join(f"{v:.0%}" for v in result["position_success"]))
            worst = sorted(result["sequences"].items(), key=lambda item: item[1]["success"])[:3]
            lines.append("  hardest: " + "; ".join(f"{k} {v['success']:.0%}" for k, v in worst))
    return "\n".join(lines)
