"""Gymnasium environments of simpl_core, registered under the `simpl/` namespace on import."""

import gymnasium

from simpl_core.envs.kitchen.env import KITCHEN_HORIZON
from simpl_core.envs.maze.env import MAZE_HORIZON

MAZE_ENV_ID = "simpl/Maze-v0"
KITCHEN_ENV_ID = "simpl/Kitchen-v0"

if MAZE_ENV_ID not in gymnasium.registry:
    gymnasium.register(
        id=MAZE_ENV_ID,
        entry_point="simpl_core.envs.maze.env:MazeEnv",
        max_episode_steps=MAZE_HORIZON,
        vector_entry_point="simpl_core.envs.maze.vector:MazeVectorEnv",
    )
if KITCHEN_ENV_ID not in gymnasium.registry:
    gymnasium.register(
        id=KITCHEN_ENV_ID,
        entry_point="simpl_core.envs.kitchen.env:KitchenEnv",
        max_episode_steps=KITCHEN_HORIZON,
        vector_entry_point="simpl_core.envs.kitchen.vector:KitchenVectorEnv",
    )


def make_vector_env(domain: str, num_envs: int, **kwargs):
    """The batched env of a domain, with autoreset disabled (waves of whole episodes)."""
    from gymnasium.vector import AutoresetMode

    if domain == "maze":
        from simpl_core.envs.maze.vector import MazeVectorEnv

        return MazeVectorEnv(num_envs, autoreset_mode=AutoresetMode.DISABLED, **kwargs)
    if domain == "kitchen":
        from simpl_core.envs.kitchen.vector import KitchenVectorEnv

        return KitchenVectorEnv(num_envs, autoreset_mode=AutoresetMode.DISABLED, **kwargs)
    raise ValueError(f"no batched env for domain {domain!r}")
