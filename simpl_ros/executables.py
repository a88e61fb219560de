"""The package's node executables, the one list that setup.py (console scripts), launch files and
`simpl-ros launch` all read: each is named after its node module, without `_node`."""

NODES = {
    "sim": "simpl_ros.simulation.sim_node",
    "skill_decoder": "simpl_ros.serving.skill_decoder_node",
    "skill_selector": "simpl_ros.serving.skill_selector_node",
    "task_encoder": "simpl_ros.serving.task_encoder_node",
    "adaptation": "simpl_ros.serving.adaptation_node",
    "demo_recorder": "simpl_ros.teleop.demo_recorder_node",
    "servo": "simpl_ros.teleop.servo_node",
    "scripted_teleop": "simpl_ros.teleop.scripted_teleop_node",
    "keyboard_teleop": "simpl_ros.teleop.keyboard_teleop_node",
    "hw_bridge": "simpl_ros.hardware.hw_bridge_node",
    "fake_arm": "simpl_ros.hardware.fake_arm_node",
    "latency_echo": "simpl_ros.tools.latency_echo_node",
}

# Executable names before they followed their module, still installed and still accepted in graph files.
RENAMED = {"sim_node": "sim", "servo_node": "servo"}
