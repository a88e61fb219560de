"""The MuJoCo kitchen (simpl_core's FrankaKitchen env) behind the Robot seam: a synchronous robot, each action moves
it one control period (12.5 Hz)."""

from __future__ import annotations

import numpy as np

from simpl_core.envs.kitchen.env import ACTION_NAMES, OBSERVATION_NAMES, KitchenEnv
from simpl_core.robots.base import Robot


class KitchenSimRobot(Robot):
    observation_dim = len(OBSERVATION_NAMES)
    action_dim = len(ACTION_NAMES)

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.env: KitchenEnv | None = None
        self.observation: np.ndarray | None = None

    def connect(self) -> None:
        """Open the sim at the kitchen's reset pose (task-agnostic: the reward is the caller's business)."""
        self.env = KitchenEnv()
        self.observation, _ = self.env.reset(seed=self.seed)

    def disconnect(self) -> None:
        self.env.close()
        self.env = None

    @property
    def ready(self) -> bool:
        return self.env is not None

    def get_observation(self) -> np.ndarray:
        return self.observation.copy()

    def send_action(self, action: np.ndarray) -> np.ndarray:
        applied = np.clip(np.asarray(action, np.float64), -1.0, 1.0)  # the env clips too; say what it ran
        self.observation, *_ = self.env.step(applied)
        return applied.astype(np.float32)
