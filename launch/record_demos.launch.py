"""`ros2 launch simpl_ros record_demos.launch.py [scripted:=false] [bag:=runs/demo_bag]`: record kitchen
demonstrations by Cartesian teleoperation. The graph (nodes, arguments, parameters) lives in
config/launch/record_demos.yaml, which `simpl-ros launch record_demos` reads too."""

from simpl_ros.tools.launcher import launch_description


def generate_launch_description():
    return launch_description("record_demos")
