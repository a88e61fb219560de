"""The robot seam: what a policy loop needs from a robot, real or simulated."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Robot(ABC):
    """Observations in, actions out, both in the policy's units (for the kitchen: the 59-D observation and 9 joint
    velocities normalised to [-1, 1]). Each robot maps them to its own hardware and enforces its own limits."""

    observation_dim: int
    action_dim: int

    def connect(self) -> None:
        """Start talking to the robot (open the sim, subscribe to the driver's topics)."""

    def disconnect(self) -> None:
        """Stop talking to it, leaving it at rest."""

    @property
    def ready(self) -> bool:
        """Whether get_observation() reports the robot's current state (a driver may not have been heard yet)."""
        return True

    @abstractmethod
    def get_observation(self) -> np.ndarray:
        """The robot's state as the policy sees it (float32, observation_dim)."""

    @abstractmethod
    def send_action(self, action: np.ndarray) -> np.ndarray:
        """Command the robot; returns the action actually sent (after the robot's limits), in the policy's units."""
