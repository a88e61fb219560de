"""What the rest of the stack needs to know about each domain: its env id, names, rates and action bounds."""

from __future__ import annotations

from dataclasses import dataclass

from simpl_core.envs.kitchen import env as kitchen
from simpl_core.envs.maze import env as maze
from simpl_core.envs.maze.model import TIMESTEP


@dataclass(frozen=True)
class DomainSpec:
    name: str
    env_id: str
    observation_names: tuple[str, ...]
    action_names: tuple[str, ...]
    control_rate_hz: float
    """env steps per second"""
    action_low: float
    action_high: float
    horizon: int
    """env steps per episode"""
    robot_joints: tuple[str, ...]
    """MuJoCo joints of the robot itself (what /joint_states reports), not the objects"""
    position_names: tuple[str, ...] = ()
    """the observation without velocities (D4RL's kitchen layout)"""

    @property
    def state_dim(self) -> int:
        return len(self.observation_names)

    @property
    def action_dim(self) -> int:
        return len(self.action_names)

    def input_indices(self, inputs: str | list[str]) -> list[int] | None:
        """Observation indices of an input slice: "all" (None: the whole observation), "positions", or a list of
        observation names."""
        if inputs == "all":
            return None
        names = self.position_names if inputs == "positions" else inputs
        if isinstance(names, str) or not names:
            raise ValueError(f"inputs must be 'all', 'positions' or a list of observation names; got {inputs!r}")
        unknown = [name for name in names if name not in self.observation_names]
        if unknown:
            raise ValueError(
                f"inputs {unknown} are not observations of domain {self.name!r} ({', '.join(self.observation_names)})"
            )
        return [self.observation_names.index(name) for name in names]


DOMAINS = {
    "maze": DomainSpec(
        name="maze",
        env_id="simpl/Maze-v0",
        observation_names=maze.OBSERVATION_NAMES,
        action_names=maze.ACTION_NAMES,
        control_rate_hz=1.0 / TIMESTEP,
        action_low=-1.0,
        action_high=1.0,
        horizon=maze.MAZE_HORIZON,
        robot_joints=("ball_x", "ball_y"),
        position_names=("x", "y"),
    ),
    "kitchen": DomainSpec(
        name="kitchen",
        env_id="simpl/Kitchen-v0",
        observation_names=kitchen.OBSERVATION_NAMES,
        action_names=kitchen.ACTION_NAMES,
        control_rate_hz=kitchen.CONTROL_RATE_HZ,
        action_low=-1.0,
        action_high=1.0,
        horizon=kitchen.KITCHEN_HORIZON,
        robot_joints=kitchen.ROBOT_JOINTS,
        position_names=kitchen.POSITION_NAMES,
    ),
}


def domain(name: str) -> DomainSpec:
    if name not in DOMAINS:
        raise ValueError(f"unknown domain {name!r}; known domains: {', '.join(DOMAINS)}")
    return DOMAINS[name]
