"""Teleoperation of the kitchen arm: Cartesian twists to env actions, and a scripted teleoperator that makes demos."""
