"""simpl_ros: the ROS 2 (rclpy) side of the stack. Nodes load ONNX bundles produced by simpl_core."""
