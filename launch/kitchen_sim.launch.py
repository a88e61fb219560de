"""`ros2 launch simpl_ros kitchen_sim.launch.py task:=kitchen-target-10:3 adapt:=true`: the Franka kitchen driven by
the meta-trained skill policy, adapting on-robot to the task. The graph (nodes, arguments, parameters) lives in
config/launch/kitchen_sim.yaml, which `simpl-ros launch kitchen_sim` reads too."""

from simpl_ros.tools.launcher import launch_description


def generate_launch_description():
    return launch_description("kitchen_sim")
