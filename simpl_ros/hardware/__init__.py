"""The seam to a real 7-DoF arm: the bridge to ros2_control topics, and a fake arm that stands in for one."""
