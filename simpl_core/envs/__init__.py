"""Gymnasium environments of simpl_core, registered under the `simpl/` namespace on import."""

import gymnasium

from simpl_core.envs.maze.env import MAZE_HORIZON

MAZE_ENV_ID = "simpl/Maze-v0"

if MAZE_ENV_ID not in gymnasium.registry:
    gymnasium.register(id=MAZE_ENV_ID, entry_point="simpl_core.envs.maze.env:MazeEnv",
                       max_episode_steps=MAZE_HORIZON,
                       vector_entry_point="simpl_core.envs.maze.vector:MazeVectorEnv")
