"""`ros2 launch simpl_ros kitchen_hw.launch.py [driver:=ros2_control|mock] [command_interface:=velocity]`: the kitchen
arm on ros2_control hardware driven by the skill policy. The graph (nodes, arguments, parameters) lives in
config/launch/kitchen_hw.yaml, which `simpl-ros launch kitchen_hw` reads too."""

from simpl_ros.tools.launcher import launch_description


def generate_launch_description():
    return launch_description("kitchen_hw")
