"""Task-agnostic kitchen data: scripted teleoperation of random subtask sequences (SPEC §2 "Offline data").

The paper's ~600 human play sequences cannot be downloaded, so we collect them the way a lab would, with a scripted
operator at the Cartesian teleop interface: each episode picks `subtasks_per_episode` distinct subtasks in a random
order (any order, like play data, not only the task sequences) and the ScriptedTeleoperator performs them through
twists -> CartesianController -> joint-velocity actions, with noise. The episode ends when the operator is done (plus
a short pause) or at `max_steps`. Only observations and actions are kept: rewards are zeros, no task is stored; which
subtasks an episode completed can be read back from its observations (`simpl data inspect`).
Episodes are independent, so they run in parallel processes, each seeded from (seed, episode index).
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from simpl_core.data.minari_io import Episode
from simpl_core.envs.kitchen.env import KitchenEnv
from simpl_core.envs.kitchen.task import SUBTASKS, completed_subtasks
from simpl_core.teleop.cartesian import CartesianController
from simpl_core.teleop.scripted import ScriptedTeleoperator, TeleopNoise


@dataclass(frozen=True)
class DemoConfig:
    episodes: int = 600             # the paper's dataset has ~600 sequences
    subtasks_per_episode: int = 4   # as in the target tasks; orders are random
    max_steps: int = 500            # hard cap per episode (4 subtasks take ~200-300 steps)
    pause_steps: int = 5            # the operator lets go and waits a moment before the recording stops
    noise_scale: float = 1.0        # multiplies the teleoperator's twist and waypoint noise (0: no noise)
    seed: int = 0
    workers: int = 2                # parallel processes


@dataclass
class DemoStats:
    episodes: int = 0
    transitions: int = 0
    attempted: Counter = field(default_factory=Counter)  # subtask -> episodes that tried it
    completed: Counter = field(default_factory=Counter)  # subtask -> episodes that ended with it done once

    def add(self, episode: Episode, attempted: list[str], completed: set[str]) -> None:
        self.episodes += 1
        self.transitions += episode.length
        self.attempted.update(attempted)
        self.completed.update(completed & set(attempted))

    def success_rates(self) -> dict[str, float]:
        return {name: self.completed[name] / self.attempted[name] for name in SUBTASKS if self.attempted[name]}


def record_episode(cfg: DemoConfig, index: int) -> tuple[Episode, list[str], set[str]]:
    """One scripted-teleop episode: the episode, the subtasks attempted and the subtasks it completed at some step."""
    rng = np.random.default_rng([cfg.seed, index])
    subtasks = [str(name) for name in rng.choice(SUBTASKS, cfg.subtasks_per_episode, replace=False)]
    env = KitchenEnv()
    observation, _ = env.reset(seed=int(rng.integers(2**31)))
    operator = ScriptedTeleoperator(env.model, env.data, subtasks, rng, TeleopNoise(scale=cfg.noise_scale))
    controller = CartesianController(env.model, env.data)
    observations, actions, completed = [observation], [], set()
    pause = cfg.pause_steps
    while len(actions) < cfg.max_steps and pause > 0:
        pause -= operator.done
        action = controller.action(operator.twist())
        observation, _, _, _, _ = env.step(action)
        observations.append(observation)
        actions.append(action)
        completed |= completed_subtasks(env.data.qpos)
    env.close()
    truncations = np.zeros(len(actions), dtype=bool)
    truncations[-1] = True  # the recording stopped; the kitchen has no terminal state
    return Episode(np.stack(observations), np.stack(actions), truncations=truncations), subtasks, completed


def _record(job: tuple[DemoConfig, int]):
    return record_episode(*job)


def generate_kitchen_episodes(cfg: DemoConfig, progress: bool = True) -> tuple[list[Episode], DemoStats]:
    """`cfg.episodes` scripted-teleop episodes, in index order whatever the number of workers."""
    jobs = [(cfg, index) for index in range(cfg.episodes)]
    episodes, stats = [], DemoStats()
    with ProcessPoolExecutor(max_workers=cfg.workers) as pool:
        results = pool.map(_record, jobs, chunksize=4) if cfg.workers > 1 else map(_record, jobs)
        for episode, attempted, completed in tqdm(results, total=cfg.episodes, unit="episode",
                                                  desc="kitchen teleop data", disable=not progress):
            episodes.append(episode)
            stats.add(episode, attempted, completed)
    return episodes, stats
