"""`ros2 launch simpl_ros maze_sim.launch.py task:="[12, 7]" rtf:=1.0`: the maze robot driven by the meta-trained
skill policy. The graph (nodes, arguments, parameters) lives in config/launch/maze_sim.yaml, which
`simpl-ros launch maze_sim` reads too."""

from simpl_ros.tools.launcher import launch_description


def generate_launch_description():
    return launch_description("maze_sim")
