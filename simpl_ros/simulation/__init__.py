"""The MuJoCo simulation as a ROS 2 node (maze and kitchen)."""
