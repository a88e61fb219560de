"""MuJoCo model of the point-mass maze, generated from a MazeLayout."""

from __future__ import annotations

import mujoco
import numpy as np

from simpl_core.envs.maze.layout import MazeLayout

TIMESTEP = 0.01  # s, one physics step per env step
MOTOR_GEAR = 100.0  # force = 100 * action per axis
JOINT_DAMPING = 1.0
BALL_RADIUS = 0.1
BALL_DENSITY = 1000.0
MAX_JOINT_VELOCITY = 5.0  # joint velocities are clipped to +-5 before every physics step
WALL_HALF_HEIGHT = 0.5


def build_mjcf(layout: MazeLayout) -> str:
    """MJCF text of the maze: merged wall boxes, a ball on two slide joints with motors, a goal marker site."""
    walls = []
    for i, (x0, y0, x1, y1) in enumerate(layout.wall_boxes()):
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        hx, hy = (x1 - x0 + 1) / 2, (y1 - y0 + 1) / 2
        walls.append(
            f'<geom name="wall{i}" type="box" pos="{cx} {cy} 0" size="{hx} {hy} {WALL_HALF_HEIGHT}" material="wall"/>'
        )
    rows, cols = layout.shape
    centre = f"{(rows - 1) / 2} {(cols - 1) / 2}"
    return f"""<mujoco model="simpl_maze_{layout.name}">
  <option timestep="{TIMESTEP}" gravity="0 0 0" integrator="Euler"/>
  <default>
    <joint damping="{JOINT_DAMPING}" limited="false"/>
    <geom condim="1" margin="0.002" friction="0.5 0.1 0.1"/>
  </default>
  <visual><global offwidth="640" offheight="640"/></visual>
  <asset>
    <texture name="grid" type="2d" builtin="checker" rgb1="0.85 0.85 0.85" rgb2="0.75 0.75 0.75" width="64"
             height="64"/>
    <material name="floor" texture="grid" texrepeat="{cols / 2} {rows / 2}"/>
    <material name="wall" rgba="0.45 0.35 0.25 1"/>
  </asset>
  <worldbody>
    <light pos="{centre} 30" dir="0 0 -1" directional="true"/>
    <camera name="top" pos="{centre} {1.3 * max(rows, cols)}" xyaxes="0 -1 0 1 0 0"/>
    <geom name="floor" type="plane" pos="{centre} {-WALL_HALF_HEIGHT}" size="{rows / 2} {cols / 2} 0.1"
          material="floor" contype="0" conaffinity="0"/>
    {chr(10).join("    " + w for w in walls).strip()}
    <site name="goal" pos="0 0 0" size="1.0" rgba="0.2 0.8 0.2 0.3" type="sphere"/>
    <body name="ball" pos="0 0 0">
      <joint name="ball_x" type="slide" axis="1 0 0"/>
      <joint name="ball_y" type="slide" axis="0 1 0"/>
      <geom name="ball" type="sphere" size="{BALL_RADIUS}" density="{BALL_DENSITY}" rgba="0.1 0.3 0.9 1"/>
    </body>
  </worldbody>
  <actuator>
    <motor name="ball_x" joint="ball_x" gear="{MOTOR_GEAR}" ctrlrange="-1 1" ctrllimited="true"/>
    <motor name="ball_y" joint="ball_y" gear="{MOTOR_GEAR}" ctrlrange="-1 1" ctrllimited="true"/>
  </actuator>
</mujoco>
"""


def build_model(layout: MazeLayout) -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_string(build_mjcf(layout))


def physics_step(model: mujoco.MjModel, data: mujoco.MjData, action: np.ndarray) -> None:
    """One env step: clip the action and the joint velocities (as D4RL's MazeEnv does), then one mj_step."""
    data.ctrl[:] = np.clip(action, -1.0, 1.0)
    np.clip(data.qvel, -MAX_JOINT_VELOCITY, MAX_JOINT_VELOCITY, out=data.qvel)
    mujoco.mj_step(model, data)
