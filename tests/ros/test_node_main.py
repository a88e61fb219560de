"""node_main.run: a node that cannot start says why in one line and exits 2; a bug in a callback once the node
spins is not dressed up as a start-up error (it propagates with its traceback) and still shuts rclpy down."""

import pytest
import rclpy
from rclpy.node import Node

from simpl_ros.common.node_main import run


class Refuses(Node):
    def __init__(self):
        raise ValueError("no bundle at models/missing")


class BuggyCallback(Node):
    def __init__(self):
        super().__init__("buggy_callback")
        self.create_timer(0.01, self.tick)

    def tick(self):
        raise ValueError("a bug in a callback")


def test_a_node_that_cannot_start_says_why_in_one_line(capsys):
    assert run(Refuses) == 2
    assert capsys.readouterr().err.strip() == "[Refuses] cannot start: no bundle at models/missing"
    assert not rclpy.ok()


def test_a_bug_at_run_time_is_not_reported_as_a_start_up_error(capsys):
    with pytest.raises(ValueError, match="a bug in a callback"):
        run(BuggyCallback)
    assert "cannot start" not in capsys.readouterr().err
    assert not rclpy.ok()
