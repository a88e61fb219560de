"""The safety layer below the policy, as plain functions (ROS-free, unit-tested): turn a normalised policy action into
joint velocities a real arm may run for one control period, and tell when an input has gone quiet."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class JointLimits:
    """Per joint: position range (rad, or m for the fingers) and the largest speed (rad/s, m/s)."""

    lower: np.ndarray
    upper: np.ndarray
    velocity: np.ndarray

    def __post_init__(self):
        arrays = [np.asarray(a, np.float64) for a in (self.lower, self.upper, self.velocity)]
        if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
            raise ValueError(
                f"joint limits need one value per joint in each of lower, upper and velocity, got "
                f"{', '.join(str(a.size) for a in arrays)} values"
            )
        if not (arrays[0] < arrays[1]).all() or not (arrays[2] > 0).all():
            raise ValueError("joint limits need lower < upper and a velocity limit > 0 for every joint")
        for name, array in zip(("lower", "upper", "velocity"), arrays):
            object.__setattr__(self, name, array)


def command_problem(command: np.ndarray, size: int) -> str | None:
    """Why a policy command cannot be sent to the arm (wrong length, NaN or inf), or None when it can."""
    if command.shape != (size,):
        return f"expected {size} joint velocities, got {command.size} values"
    if not np.isfinite(command).all():
        return "NaN or inf in the command"
    return None


def safe_velocity(
    action: np.ndarray, position: np.ndarray, limits: JointLimits, action_scale: float, period_s: float
) -> np.ndarray:
    """Joint velocities for a normalised action: clipped to [-1, 1] and scaled as the sim does (FrankaKitchen: rad/s
    = 2 x action), clamped to the velocity limits, and slowed near a position limit to cover at most half the
    distance to it per control period, so that a next command up to one period late still stops the joint short of
    the limit; a joint already past a limit (the kitchen's reset pose has joint 2 there) may only move back."""
    velocity = np.clip(np.clip(action, -1.0, 1.0) * action_scale, -limits.velocity, limits.velocity)
    room_up = np.maximum(limits.upper - position, 0.0) / (2 * period_s)
    room_down = np.minimum(limits.lower - position, 0.0) / (2 * period_s)
    return np.clip(velocity, room_down, room_up)


class Freshness:
    """When an input (a command stream, joint states) was last heard, and whether that is recent enough."""

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self.last: float | None = None

    def mark(self, now: float) -> None:
        self.last = now

    @property
    def heard(self) -> bool:
        return self.last is not None

    def stale(self, now: float) -> bool:
        return self.last is None or now - self.last > self.timeout_s
