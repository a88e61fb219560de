"""Gymnasium env of SiMPL's kitchen: FrankaKitchen-v1 (Gymnasium-Robotics) with ordered 4-subtask sequences.

Observation: the base env's flat 59-D `observation` (layout in OBSERVATION_NAMES: 9 robot joint positions, 9 robot
joint velocities, 21 object joint positions, 20 object joint velocities; the kettle's free joint is x, y, z and a
w-first quaternion, then 3 linear and 3 angular velocities), copied every step because the base env reuses its
arrays. Action: 9 joint velocities in [-1, 1] (7 arm joints, 2 fingers), which the base env turns into clipped
position targets (12.5 Hz, 40 physics steps per env step).

With a task (a KitchenTask, or a list of 4 subtask names) the reward is SiMPL's in-order credit (task.py) and the
episode terminates when all 4 subtasks are credited. Without one the env is task-agnostic (reward 0, never
terminates): that is how demonstrations are recorded. `reset(options={"state": (qpos, qvel)})` starts elsewhere than
the fixed reset pose. The 280-step horizon is a truncation (gymnasium's TimeLimit via the registered id).
`info["completed"]` lists the subtasks complete right now, `info["credited"]` counts credit.
"""

from __future__ import annotations

import gymnasium
import mujoco
import numpy as np
from gymnasium import spaces

from simpl_core.envs.kitchen.base import KitchenEnv as FrankaKitchen
from simpl_core.envs.kitchen.task import SUBTASKS, KitchenTask, completed_subtasks, parse_kitchen_task

KITCHEN_HORIZON = 280
CONTROL_RATE_HZ = 12.5
_ROBOT_JOINTS = ("joint1", "joint2", "joint3", "joint4", "joint5", "joint6", "joint7", "finger1", "finger2")
_OBJECT_JOINTS = (
    "knob1",
    "bottom_right_burner",
    "knob2",
    "bottom_left_burner",
    "knob3",
    "top_right_burner",
    "knob4",
    "top_left_burner",
    "light_switch",
    "light_joint",
    "slide_cabinet",
    "left_hinge_cabinet",
    "right_hinge_cabinet",
    "microwave",
)
OBSERVATION_NAMES = (
    *(f"{joint}_pos" for joint in _ROBOT_JOINTS),
    *(f"{joint}_vel" for joint in _ROBOT_JOINTS),
    *(f"{joint}_pos" for joint in _OBJECT_JOINTS),
    *(f"kettle_{axis}" for axis in ("x", "y", "z", "qw", "qx", "qy", "qz")),
    *(f"{joint}_vel" for joint in _OBJECT_JOINTS),
    *(f"kettle_{axis}" for axis in ("vx", "vy", "vz", "wx", "wy", "wz")),
)
# The observation's four parts, as slices (the robot's 9 joints = the action's order).
ROBOT_POSITIONS, ROBOT_VELOCITIES = slice(0, 9), slice(9, 18)
OBJECT_POSITIONS, OBJECT_VELOCITIES = slice(18, 39), slice(39, 59)  # 21 positions (kettle as a pose), 20 velocities
# D4RL's kitchen observation (what SPiRL and SiMPL trained on) has positions only: robot then objects, 30 values.
POSITION_NAMES = OBSERVATION_NAMES[ROBOT_POSITIONS] + OBSERVATION_NAMES[OBJECT_POSITIONS]
ACTION_NAMES = tuple(f"{joint}_velocity" for joint in _ROBOT_JOINTS)
ROBOT_JOINTS = tuple(
    f"robot:panda0_{joint}"
    for joint in (
        "joint1",
        "joint2",
        "joint3",
        "joint4",
        "joint5",
        "joint6",
        "joint7",
        "finger_joint1",
        "finger_joint2",
    )
)  # MuJoCo names, in action order


def qpos_from_observation(observation: np.ndarray) -> np.ndarray:
    """The full 30-D joint positions (robot, then objects) held in a 59-D observation (noise included); a batch of
    observations (..., 59) gives (..., 30)."""
    return np.concatenate([observation[..., ROBOT_POSITIONS], observation[..., OBJECT_POSITIONS]], axis=-1)


def state_from_observation(observation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(qpos (..., 30), qvel (..., 29)) that a 59-D observation (or a batch of them) shows, noise included."""
    return qpos_from_observation(observation), np.concatenate(
        [observation[..., ROBOT_VELOCITIES], observation[..., OBJECT_VELOCITIES]], axis=-1
    )


def mirror_observation(observation: np.ndarray, model, data) -> None:
    """Set a MuJoCo model of the kitchen to the state an observation shows (joint positions and velocities), e.g.
    for a teleoperation node that computes Jacobians away from the simulator or robot."""
    data.qpos[:], data.qvel[:] = state_from_observation(observation)
    mujoco.mj_kinematics(model, data)


def observation_space() -> spaces.Box:
    return spaces.Box(-np.inf, np.inf, shape=(len(OBSERVATION_NAMES),), dtype=np.float32)


def action_space() -> spaces.Box:
    return spaces.Box(-1.0, 1.0, shape=(len(ACTION_NAMES),), dtype=np.float32)


def as_task(task) -> KitchenTask | None:
    """Accept a KitchenTask, a list of subtask names, a comma-separated string, or None (task-agnostic)."""
    if task is None or isinstance(task, KitchenTask):
        return task
    return parse_kitchen_task(task)


class KitchenEnv(gymnasium.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": CONTROL_RATE_HZ}

    def __init__(self, task=None, render_mode: str | None = None):
        # The base env tracks every subtask and never ends an episode itself: task semantics are ours.
        self.base = FrankaKitchen(
            tasks_to_complete=list(SUBTASKS),
            terminate_on_tasks_completed=False,
            remove_task_when_completed=False,
            render_mode=render_mode,
        )
        self.observation_space = observation_space()
        self.action_space = action_space()
        self.render_mode = render_mode
        self.task = as_task(task)
        self.credited = 0

    @property
    def model(self):
        return self.base.model

    @property
    def data(self):
        return self.base.data

    def set_task(self, task) -> None:
        """Switch the sequence (a KitchenTask, 4 subtask names, or None); credit restarts from zero."""
        self.task, self.credited = as_task(task), 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = options or {}
        if "task" in options:
            self.set_task(options["task"])
        # The base env seeds its own generator (observation noise) from ours, so one seed drives both.
        obs, _ = self.base.reset(seed=int(self.np_random.integers(2**31)))
        if "state" in options:
            obs = self._set_state(*options["state"])
        self.credited = 0
        return self._observe(obs), self._info(completed_subtasks(self.data.qpos))

    def step(self, action):
        action = np.asarray(action, dtype=np.float64)
        if action.shape != self.action_space.shape or not np.all(np.isfinite(action)):
            raise ValueError(f"kitchen action must be {self.action_space.shape[0]} finite numbers, got {action!r}")
        obs, _, _, _, _ = self.base.step(action)
        done = completed_subtasks(self.data.qpos)
        reward, terminated = 0.0, False
        if self.task is not None:
            credited = self.task.credit(self.credited, done)
            reward, self.credited = float(credited - self.credited), credited
            terminated = credited == len(self.task.subtasks)
        return self._observe(obs), reward, terminated, False, self._info(done)

    def _set_state(self, qpos, qvel) -> dict:
        """Start from joint positions (30,) and velocities (29,) instead of the fixed reset (a perturbed start pose,
        or the state a recorded observation shows); the base env re-bases its next servo targets on this state."""
        qpos, qvel = np.asarray(qpos, dtype=np.float64), np.asarray(qvel, dtype=np.float64)
        if (
            qpos.shape != (self.model.nq,)
            or qvel.shape != (self.model.nv,)
            or not (np.isfinite(qpos).all() and np.isfinite(qvel).all())
        ):
            raise ValueError(
                f"options['state'] must be finite (qpos ({self.model.nq},), qvel ({self.model.nv},)), "
                f"got shapes {qpos.shape} and {qvel.shape}"
            )
        self.base.robot_env.set_state(qpos, qvel)
        return self.base._get_obs(self.base.robot_env._get_obs())

    @staticmethod
    def _observe(obs: dict) -> np.ndarray:
        return np.array(obs["observation"], dtype=np.float32)  # a copy: the base env reuses its arrays

    def _info(self, done: frozenset[str]) -> dict:
        return {
            "completed": sorted(done),
            "credited": self.credited,
            "success": self.task is not None and self.credited == len(self.task.subtasks),
        }

    def render(self):
        return self.base.render() if self.render_mode == "rgb_array" else None

    def close(self):
        self.base.close()
