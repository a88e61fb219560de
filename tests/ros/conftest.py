"""Fixtures of the ROS tests."""

import threading

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor


@pytest.fixture(scope="module")
def probe():
    """A node of the test process, spun in a thread, to publish to and listen on the graph under test."""
    rclpy.init()
    node = rclpy.create_node("test_probe")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    yield node
    executor.shutdown(timeout_sec=2.0)
    node.destroy_node()
    rclpy.try_shutdown()
