"""Test-wide settings: keep ROS 2 traffic on loopback, in a domain of its own, with logs in a temp folder."""

import os
import random
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(20, 220)))
os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="simpl_ros_log_"))
os.environ.setdefault("MUJOCO_GL", "egl")  # never opens a window; tests do not render anyway


def pytest_collection_modifyitems(config, items):
    """Everything under tests/ros/ starts rclpy (most of it real processes over DDS): marked `ros`, so
    `pytest -m "not ros"` runs the training-side suite alone."""
    ros_dir = Path(__file__).resolve().parent / "ros"
    for item in items:
        if ros_dir in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.ros)
