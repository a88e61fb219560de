"""The package's node executables, the one list that setup.py (console scripts), launch files and
`simpl-ros launch` all read."""

NODES = {
    "sim_node": "simpl_ros.sim_node",
    "skill_decoder": "simpl_ros.skill_decoder_node",
    "skill_selector": "simpl_ros.skill_selector_node",
    "task_encoder": "simpl_ros.task_encoder_node",
    "adaptation": "simpl_ros.adaptation_node",
    "demo_recorder": "simpl_ros.demo_recorder_node",
    "servo_node": "simpl_ros.servo_node",
    "scripted_teleop": "simpl_ros.scripted_teleop_node",
    "keyboard_teleop": "simpl_ros.keyboard_teleop_node",
    "hw_bridge": "simpl_ros.hw_bridge_node",
    "fake_arm": "simpl_ros.hw_fake_arm_node",
    "latency_echo": "simpl_ros.latency_echo_node",
}
