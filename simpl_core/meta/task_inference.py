"""Does the meta-trained policy act on what the encoder infers? A probe for encoder collapse.

For every task, explore as SiMPL's target learning does (episodes conditioned on fresh e ~ p(e)) and encode e* =
the posterior mean of q(e | all exploration transitions), or with `e_star_sets` the mean over training-sized sets of
them. Then roll out the meta-trained policy, without any learning, conditioned on
- "inferred": the task's own e*,
- "other task": the e* inferred on the next task of the set (a wrong but equally confident task),
- "prior mean": e = 0, the centre of p(e) (no task at all).
A policy that uses the inferred task earns more with its own e* than with the other two (returns are the domain's:
maze success 0/1, kitchen completed subtasks). The e* spread says how far apart the tasks' e* lie, as the mean
distance between two tasks' e* over the mean posterior std: near or below 1, the encoder tells every task the same
thing.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from simpl_core.envs import make_vector_env
from simpl_core.rl.levels import ActionLevel
from simpl_core.rl.nets import TaskEmbedding
from simpl_core.rl.rollout import rollout_wave
from simpl_core.runtime.protocol import EXPLORATION_EPISODES

CONDITIONS = ("inferred", "other task", "prior mean")


def explore_and_encode(
    simpl, level: ActionLevel, tasks: list, episodes: int, horizon: int, seed: int, e_star_sets: int, bar: tqdm
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exploration return per task and episode, and each task's e* and posterior std given its exploration
    (`Simpl.posterior` with `e_star_sets`)."""
    rng = np.random.default_rng(seed)
    env = make_vector_env(level.bundle.manifest["domain"], len(tasks), max_episode_steps=horizon)
    explored: list[list[np.ndarray]] = [[] for _ in tasks]
    returns = np.zeros((len(tasks), episodes))
    for k in range(episodes):
        conds = rng.standard_normal((len(tasks), simpl.cfg.task_dim)).astype(np.float32)
        wave = rollout_wave(
            env, tasks, simpl.sample_skills, level.decode, level.layout, level.horizon, conds, seed=seed * 1000 + k
        )
        for i, episode in enumerate(wave):
            explored[i].append(episode.rows)
            returns[i, k] = episode.episode_return
        bar.update()
    env.close()
    mean, std = map(np.stack, zip(*(simpl.posterior(episodes, e_star_sets, rng) for episodes in explored)))
    return returns, mean, std


def conditioned_returns(
    simpl,
    level: ActionLevel,
    tasks: list,
    conds: dict[str, np.ndarray],
    episodes: int,
    horizon: int,
    seed: int,
    bar: tqdm,
) -> dict[str, np.ndarray]:
    """Return per task and episode of the meta-policy under each condition, all conditions in one batched env."""
    names = list(conds)
    env = make_vector_env(level.bundle.manifest["domain"], len(tasks) * len(names), max_episode_steps=horizon)
    stacked = np.concatenate([conds[name] for name in names]).astype(np.float32)
    returns = np.zeros((len(names) * len(tasks), episodes))
    for k in range(episodes):
        wave = rollout_wave(
            env,
            list(tasks) * len(names),
            simpl.sample_skills,
            level.decode,
            level.layout,
            level.horizon,
            stacked,
            seed=seed * 1000 + 500 + k,
        )
        returns[:, k] = [episode.episode_return for episode in wave]
        bar.update()
    env.close()
    return {name: returns[i * len(tasks) : (i + 1) * len(tasks)] for i, name in enumerate(names)}


def e_star_spread(mean: np.ndarray, std: np.ndarray) -> float:
    """Mean distance between two tasks' e*, in units of the mean posterior std."""
    distances = np.linalg.norm(mean[:, None] - mean[None], axis=-1)
    pairs = distances[np.triu_indices(len(mean), k=1)]
    return float(pairs.mean() / std.mean())


def task_inference(
    simpl,
    level: ActionLevel,
    tasks: list,
    exploration_episodes: int = EXPLORATION_EPISODES,
    episodes: int = 20,
    horizon: int = 2000,
    seed: int = 0,
    e_star_sets: int = 0,
    progress: bool = True,
) -> dict:
    """Explore, infer e* per task, then compare the meta-policy's return under each condition (module doc)."""
    if isinstance(simpl.encoder, TaskEmbedding):
        raise ValueError("this run is MTRL (told the task id): it has no encoder to infer a task with")
    if exploration_episodes < 1 or episodes < 1:
        raise ValueError("exploration episodes and episodes must be at least 1 each")
    if len(tasks) < 2:
        raise ValueError("give at least 2 tasks: the 'other task' condition borrows another task's e*")
    torch.manual_seed(seed)
    bar = tqdm(total=exploration_episodes + episodes, desc="task inference", unit="wave", disable=not progress)
    explored, mean, std = explore_and_encode(simpl, level, tasks, exploration_episodes, horizon, seed, e_star_sets, bar)
    conds = {"inferred": mean, "other task": np.roll(mean, -1, axis=0), "prior mean": np.zeros_like(mean)}
    returns = conditioned_returns(simpl, level, tasks, conds, episodes, horizon, seed, bar)
    bar.close()
    return {
        "exploration": summary(explored),
        "conditions": {name: summary(returns[name]) for name in CONDITIONS},
        "e_star_sets": e_star_sets,
        "e_star_spread": round(e_star_spread(mean, std), 3),
        "tasks": [
            {
                "task": task.name,
                "exploration": float(explored[i].mean()),
                "e_star": rounded(mean[i]),
                "posterior_std": rounded(std[i]),
                **{name: float(returns[name][i].mean()) for name in CONDITIONS},
            }
            for i, task in enumerate(tasks)
        ],
    }


def rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 3) for v in values]


def summary(returns: np.ndarray) -> dict:
    """Mean return over tasks x episodes, and its standard error over the tasks' means."""
    per_task = returns.mean(axis=1)
    return {
        "return": round(float(per_task.mean()), 3),
        "standard_error": round(float(per_task.std(ddof=1) / np.sqrt(len(per_task))), 3),
        "episodes": int(returns.size),
    }


def format_report(report: dict) -> str:
    lines = ["| condition | mean return | ± s.e. over tasks | episodes |", "|---|---|---|---|"]
    rows = {"exploration (e ~ p(e))": report["exploration"], **report["conditions"]}
    lines += [
        f"| {name} | {row['return']:.3f} | {row['standard_error']:.3f} | {row['episodes']} |"
        for name, row in rows.items()
    ]
    lines.append(f"e* spread (mean distance between tasks' e* / mean posterior std): {report['e_star_spread']}")
    lines += ["", "| task | exploration | " + " | ".join(CONDITIONS) + " |", "|---" * (2 + len(CONDITIONS)) + "|"]
    lines += [
        f"| {t['task']} | {t['exploration']:.2f} | " + " | ".join(f"{t[name]:.2f}" for name in CONDITIONS) + " |"
        for t in report["tasks"]
    ]
    return "\n".join(lines)
