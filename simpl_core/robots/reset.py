"""Putting the kitchen back between episodes on a real arm (ROS-free, unit-tested). The arm drives itself to its
start pose; the objects are a person's job (or a scripted reset's): an episode starts only when the observation
says both are back where the sim's episodes start, so the policy always begins from the state it was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simpl_core.envs.kitchen.env import OBJECT_POSITIONS, OBSERVATION_NAMES, ROBOT_POSITIONS
from simpl_core.robots.kitchen_sim import KitchenSimRobot
from simpl_core.robots.safety import JointLimits

LIMIT_MARGIN = 0.005  # how far inside a limit a home joint past it is put (rad, or m for the fingers)


def kitchen_at_rest(seed: int = 0) -> np.ndarray:
    """The sim kitchen's first observation: the arm's reset pose and the objects' resting state."""
    sim = KitchenSimRobot(seed)
    sim.connect()
    observation = sim.get_observation()
    sim.disconnect()
    return observation.astype(np.float64)


@dataclass(frozen=True)
class StartState:
    """Where an episode starts: the arm's home pose and the objects' positions, with how close is close enough."""

    home: np.ndarray
    objects: np.ndarray
    home_tolerance: float = 0.05
    """rad (m for the fingers): the largest joint error that counts as home"""
    object_tolerance: float = 0.1
    """per object coordinate; the env credits a subtask within 0.3 of its goal"""

    @classmethod
    def kitchen(cls, limits: JointLimits, **tolerances) -> "StartState":
        """The sim's start state, the arm's pose moved inside the position limits (the kitchen's reset pose has
        joint 2 and finger 1 just past a Franka's limits, which the safety layer would never let it reach)."""
        rest = kitchen_at_rest()
        pose = rest[ROBOT_POSITIONS]
        inside = (pose > limits.lower) & (pose < limits.upper)
        home = np.where(inside, pose, np.clip(pose, limits.lower + LIMIT_MARGIN, limits.upper - LIMIT_MARGIN))
        return cls(home, rest[OBJECT_POSITIONS], **tolerances)

    def arm_error(self, observation: np.ndarray) -> float:
        return float(np.abs(observation[ROBOT_POSITIONS] - self.home).max())

    def misplaced_objects(self, observation: np.ndarray) -> list[str]:
        """The object coordinates (observation names) that are off their start by more than the tolerance."""
        off = np.abs(observation[OBJECT_POSITIONS] - self.objects) > self.object_tolerance
        return [name for name, is_off in zip(OBSERVATION_NAMES[OBJECT_POSITIONS], off) if is_off]

    def homing_action(self, observation: np.ndarray, action_scale: float, speed: float) -> np.ndarray:
        """A normalised joint-velocity action toward home: proportional to the error (one control second to close
        it), at most `speed` of full scale, so the last stretch slows down instead of overshooting."""
        error = self.home - observation[ROBOT_POSITIONS]
        return np.clip(error / action_scale, -speed, speed)
