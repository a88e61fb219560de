"""Task-agnostic kitchen data: scripted teleoperation of random subtask sequences.

The paper's ~600 human play sequences cannot be downloaded, so we collect them the way a lab would, with a scripted
operator at the Cartesian teleop interface: each episode picks `subtasks_per_episode` distinct subtasks in a random
order (any order, like play data, not only the task sequences) and the ScriptedTeleoperator performs them through
twists -> CartesianController -> joint-velocity actions, with noise. The episode ends when the operator is done (plus
a short pause) or at `max_steps`. Only observations and actions are kept: rewards are zeros, no task is stored; which
subtasks an episode completed can be read back from its observations (`simpl data inspect`).
With corrective labels (recipe v1, DART-style) the stored action is the operator's clean command at the state the
noisy execution actually reached, so the data shows how to bring a drifted arm back; the executed actions are kept
in infos["executed_actions"] for open-loop replay.
Episodes are independent, so they run in parallel processes, each seeded from (seed, episode index).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from simpl_core.data.minari_io import Episode
from simpl_core.envs.kitchen.env import KitchenEnv
from simpl_core.envs.kitchen.task import SUBTASKS, completed_subtasks
from simpl_core.teleop.cartesian import KITCHEN_REST_POSTURE, CartesianController
from simpl_core.teleop.scripted import ScriptedTeleoperator, TeleopConfig, TeleopNoise


@dataclass(frozen=True)
class DemoConfig:
    episodes: int = 600
    """the paper's dataset has ~600 sequences"""
    subtasks_per_episode: int = 4
    """as in the target tasks; orders are random"""
    max_steps: int = 500
    """hard cap per episode (4 subtasks take ~200-300 steps)"""
    pause_steps: int = 5
    """the operator lets go and waits a moment before the recording stops"""
    noise_scale: float = 1.0
    """multiplies the teleoperator's twist and waypoint noise (0: no noise)"""
    noise: TeleopNoise = TeleopNoise()
    """the teleoperator's noise (scaled by noise_scale)"""
    watch_fingers: bool = False
    """grasps end when the fingers stop, releases when they are open (TeleopConfig)"""
    observable_targets: bool = False
    """pulls, kettle carry and release aim from the scene as it is (TeleopConfig)"""
    corrective_labels: bool = False
    """DART: store the clean command at the state reached as the action, the noisy one that was executed in
    infos["executed_actions"]"""
    start_noise: float = 0.0
    """rad; std of a per-episode offset of the 7 arm joints at reset (clipped at 2 std)"""
    seed: int = 0
    workers: int = 2
    """parallel processes"""


# The recipes of `simpl data kitchen --recipe`. v0: the data of the shipped models/kitchen skills (white twist noise
# recorded as the action, per-episode waypoint offsets, fixed reset, timed grasps). v1: corrective labels under
# stronger, autocorrelated noise that actually pushes the hand off its path, a perturbed start pose, grasps and
# releases that end on the fingers, no hidden per-episode offsets. v2: v1 with the operator's long phases (door
# pulls, kettle lift and carry) and releases aiming at functions of the scene as it is now, never of the scene when
# the phase began, so the labels are a function of what the observation shows.
V1 = DemoConfig(
    noise=TeleopNoise(linear_std=0.08, angular_std=0.15, waypoint_std=0.0, correlation=0.7),
    watch_fingers=True,
    corrective_labels=True,
    start_noise=0.05,
)
RECIPES = {"v0": DemoConfig(), "v1": V1, "v2": dataclasses.replace(V1, observable_targets=True)}
EXECUTED_ACTIONS = "executed_actions"  # infos key of the actions that were executed, where `actions` are labels


@dataclass
class DemoStats:
    episodes: int = 0
    transitions: int = 0
    attempted: Counter = field(default_factory=Counter)
    """subtask -> episodes that tried it"""
    completed: Counter = field(default_factory=Counter)
    """subtask -> episodes that ended with it done once"""

    def add(self, episode: Episode, attempted: list[str], completed: set[str]) -> None:
        self.episodes += 1
        self.transitions += episode.length
        self.attempted.update(attempted)
        self.completed.update(completed & set(attempted))

    def success_rates(self) -> dict[str, float]:
        return {name: self.completed[name] / self.attempted[name] for name in SUBTASKS if self.attempted[name]}


def perturbed_start(env: KitchenEnv, rng: np.random.Generator, std: float) -> tuple[np.ndarray, np.ndarray]:
    """The reset state with the arm joints moved by N(0, std) each (clipped at 2 std and to the joint ranges)."""
    qpos, qvel = env.base.robot_env.init_qpos.copy(), np.zeros(env.model.nv)
    arm = slice(0, len(KITCHEN_REST_POSTURE))
    qpos[arm] += np.clip(rng.normal(0.0, std, len(KITCHEN_REST_POSTURE)), -2 * std, 2 * std)
    qpos[arm] = np.clip(qpos[arm], *env.model.jnt_range[arm].T)
    return qpos, qvel


def record_episode(cfg: DemoConfig, index: int) -> tuple[Episode, list[str], set[str]]:
    """One scripted-teleop episode: the episode, the subtasks attempted and the subtasks it completed at some step."""
    rng = np.random.default_rng([cfg.seed, index])
    subtasks = [str(name) for name in rng.choice(SUBTASKS, cfg.subtasks_per_episode, replace=False)]
    env = KitchenEnv()
    options = {"state": perturbed_start(env, rng, cfg.start_noise)} if cfg.start_noise > 0 else None
    observation, _ = env.reset(seed=int(rng.integers(2**31)), options=options)
    operator = ScriptedTeleoperator(
        env.model,
        env.data,
        subtasks,
        rng,
        dataclasses.replace(cfg.noise, scale=cfg.noise_scale),
        TeleopConfig(watch_fingers=cfg.watch_fingers, observable_targets=cfg.observable_targets),
    )
    controller = CartesianController(env.model, env.data)
    observations, labels, executed, completed = [observation], [], [], set()
    pause = cfg.pause_steps
    while len(executed) < cfg.max_steps and pause > 0:
        pause -= operator.done
        label, action = teleop_step(operator, controller)
        observation, _, _, _, _ = env.step(action)
        observations.append(observation)
        labels.append(label)
        executed.append(action)
        completed |= completed_subtasks(env.data.qpos)
    env.close()
    truncations = np.zeros(len(executed), dtype=bool)
    truncations[-1] = True  # the recording stopped; the kitchen has no terminal state
    if cfg.corrective_labels:
        episode = Episode(
            np.stack(observations),
            np.stack(labels),
            truncations=truncations,
            infos={EXECUTED_ACTIONS: np.stack(executed)},
        )
    else:
        episode = Episode(np.stack(observations), np.stack(executed), truncations=truncations)
    return episode, subtasks, completed


def teleop_step(operator: ScriptedTeleoperator, controller: CartesianController) -> tuple[np.ndarray, np.ndarray]:
    """(label, executed) actions of one step: the operator's clean command at the current state, and the noisy one
    it sends (the same once it is done)."""
    clean = operator.command()
    sent = clean if operator.done else operator.perturb(clean)
    return controller.action(clean), controller.action(sent)


def _record(job: tuple[DemoConfig, int]):
    return record_episode(*job)


def generate_kitchen_episodes(cfg: DemoConfig, progress: bool = True) -> tuple[list[Episode], DemoStats]:
    """`cfg.episodes` scripted-teleop episodes, in index order whatever the number of workers."""
    jobs = [(cfg, index) for index in range(cfg.episodes)]
    episodes, stats = [], DemoStats()
    with ProcessPoolExecutor(max_workers=cfg.workers) as pool:
        results = pool.map(_record, jobs, chunksize=4) if cfg.workers > 1 else map(_record, jobs)
        for episode, attempted, completed in tqdm(
            results, total=cfg.episodes, unit="episode", desc="kitchen teleop data", disable=not progress
        ):
            episodes.append(episode)
            stats.add(episode, attempted, completed)
    return episodes, stats
