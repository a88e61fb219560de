"""Robots behind one seam (LeRobot-style, base.Robot): a policy loop reads observations and sends actions in the
policy's units, whether the robot is the MuJoCo kitchen (kitchen_sim) or a real arm
(simpl_ros.hardware.ros2_control_arm), and the safety layer below the policy (safety). ROS-free."""
