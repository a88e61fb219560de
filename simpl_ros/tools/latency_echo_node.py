"""The graph's latency floor: a node that answers every message on `simpl/bench/ping` with a command-sized
message on `simpl/bench/pong` and does nothing else. `simpl-ros bench` times the round trip through it, so the
serving graph's observation -> command latency can be read against what two rclpy processes and DDS cost alone
on the same machine (the decoder's own work is what the graph adds on top).
"""

from __future__ import annotations

import sys

from rclpy.node import Node
from std_msgs.msg import Float64MultiArray

from simpl_ros.common.messages import PING_TOPIC, PONG_TOPIC, STREAM_DEPTH
from simpl_ros.common.node_main import parameter, run


class LatencyEchoNode(Node):
    def __init__(self):
        super().__init__("latency_echo")
        answer = Float64MultiArray(data=[0.0] * parameter(self, "answer_size", 2))
        pong = self.create_publisher(Float64MultiArray, PONG_TOPIC, 10)
        self.create_subscription(Float64MultiArray, PING_TOPIC, lambda _msg: pong.publish(answer), STREAM_DEPTH)


def main(args=None) -> None:
    sys.exit(run(LatencyEchoNode, args))


if __name__ == "__main__":
    main()
