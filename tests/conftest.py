"""Test-wide settings: keep ROS 2 traffic on loopback, in a domain of its own, with logs in a temp folder."""

import os
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(20, 220)))
os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="simpl_ros_log_"))
os.environ.setdefault("MUJOCO_GL", "egl")  # never opens a window; tests do not render anyway
