"""Keyboard teleoperation in a terminal: keys become end-effector twists for the servo node, and start, save or
discard episodes of the demo recorder.

Run it in a terminal of its own (`keyboard_teleop`, or `ros2 run simpl_ros keyboard_teleop`); it reads single key
presses (no Enter). A key press moves the end-effector for `key_hold_s` seconds; a held key repeats, so the motion
continues while it is held. Publishes geometry_msgs/TwistStamped (world frame) on /servo_node/delta_twist_cmds at
`rate_hz` and std_msgs/Float64 (+1 open, -1 close) on /servo_node/gripper_cmd; calls /demo_recorder/{start,stop,
discard} (std_srvs/Trigger).
"""

from __future__ import annotations

import os
import select
import sys
import termios
import time
import tty

import numpy as np
from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from std_msgs.msg import Float64
from std_srvs.srv import Trigger

from simpl_ros.common.messages import GRIPPER_TOPIC, TWIST_TOPIC, twist_message
from simpl_ros.common.node_main import StartupError, parameter, run

# key -> (linear direction, angular direction) in the world frame: x right, y into the kitchen, z up
MOTION_KEYS = {
    "w": ((0, 1, 0), (0, 0, 0)),
    "s": ((0, -1, 0), (0, 0, 0)),
    "a": ((-1, 0, 0), (0, 0, 0)),
    "d": ((1, 0, 0), (0, 0, 0)),
    "r": ((0, 0, 1), (0, 0, 0)),
    "f": ((0, 0, -1), (0, 0, 0)),
    "q": ((0, 0, 0), (0, 0, 1)),
    "e": ((0, 0, 0), (0, 0, -1)),  # yaw left / right
    "z": ((0, 0, 0), (0, 1, 0)),
    "c": ((0, 0, 0), (0, -1, 0)),  # roll about the approach axis (knobs)
}
RECORDER_KEYS = {"n": "start", "m": "stop", "x": "discard"}
HELP = """keyboard teleop: w/s forward/back, a/d left/right, r/f up/down, q/e yaw, z/c roll, space gripper,
+/- speed; recorder: n new episode, m save it, x discard it; Ctrl-C quits"""


class KeyboardTeleopNode(Node):
    def __init__(self):
        super().__init__("keyboard_teleop")
        if not os.isatty(sys.stdin.fileno()):
            raise StartupError("keyboard teleop reads key presses from a terminal: run it in a terminal of its own")
        self.speed = parameter(self, "linear_speed", 0.15)  # m/s
        self.turn = parameter(self, "angular_speed", 0.6)  # rad/s
        self.hold = parameter(self, "key_hold_s", 0.3)
        recorder = parameter(self, "recorder", "/demo_recorder")
        self.linear, self.angular, self.until, self.gripper = np.zeros(3), np.zeros(3), 0.0, 1.0
        self.twist_pub = self.create_publisher(TwistStamped, TWIST_TOPIC, 10)
        self.gripper_pub = self.create_publisher(Float64, GRIPPER_TOPIC, 10)
        self.recorder = {
            action: self.create_client(Trigger, f"{recorder}/{action}") for action in ("start", "stop", "discard")
        }
        self.terminal = termios.tcgetattr(sys.stdin)
        tty.setcbreak(sys.stdin.fileno())  # key presses arrive one by one, unechoed
        self.create_timer(1.0 / parameter(self, "rate_hz", 25.0), self._tick)
        print(HELP, flush=True)

    def _tick(self) -> None:
        for key in self._keys():
            self._press(key)
        moving = time.monotonic() < self.until
        linear, angular = (self.linear, self.angular) if moving else (np.zeros(3), np.zeros(3))
        self.twist_pub.publish(twist_message(self.get_clock().now().to_msg(), linear, angular))
        self.gripper_pub.publish(Float64(data=self.gripper))

    def _keys(self) -> str:
        if not select.select([sys.stdin], [], [], 0)[0]:
            return ""
        return os.read(sys.stdin.fileno(), 64).decode(errors="ignore")

    def _press(self, key: str) -> None:
        if key in MOTION_KEYS:
            linear, angular = MOTION_KEYS[key]
            self.linear, self.angular = self.speed * np.array(linear), self.turn * np.array(angular)
            self.until = time.monotonic() + self.hold
        elif key == " ":
            self.gripper = -self.gripper
            print("gripper " + ("open" if self.gripper > 0 else "closed"), flush=True)
        elif key in "+-":
            self.speed *= 1.25 if key == "+" else 0.8
            print(f"linear speed {self.speed:.3f} m/s", flush=True)
        elif key in RECORDER_KEYS:
            self._call_recorder(RECORDER_KEYS[key])

    def _call_recorder(self, action: str) -> None:
        client = self.recorder[action]
        if not client.service_is_ready():
            print(f"no demo recorder at {client.srv_name}: is it running?", flush=True)
            return
        client.call_async(Trigger.Request()).add_done_callback(
            lambda future: print(f"recorder {action}: {future.result().message}", flush=True)
        )

    def destroy_node(self) -> None:
        termios.tcsetattr(sys.stdin, termios.TCSADRAIN, self.terminal)  # give the terminal back as it was
        super().destroy_node()


def main(args=None) -> None:
    sys.exit(run(KeyboardTeleopNode, args))


if __name__ == "__main__":
    main()
