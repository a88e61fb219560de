"""Cartesian teleoperation of the kitchen arm, MoveIt-Servo style.

Subscribes to an end-effector twist (geometry_msgs/TwistStamped on ~/delta_twist_cmds: linear m/s and angular rad/s
in the world frame; frame_id "" or "world") and a gripper command (std_msgs/Float64 on ~/gripper_cmd: +1 open,
-1 close), and answers every step of the robot (simpl/step) and every new twist with a joint-velocity command on
/<controller>/commands (std_msgs/Float64MultiArray, as a ros2_control JointGroupVelocityController takes it); the
robot applies the latest one at its next control step. The twist becomes joint
velocities through simpl_core's CartesianController (damped least squares on the MuJoCo Jacobian, joint-limit aware,
gravity compensated) on a MuJoCo model of the kitchen set to the state each step's observation shows.
A twist older than `incoming_command_timeout` seconds (MoveIt Servo's default: 0.1 s) counts as zero: the arm holds.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from std_msgs.msg import Float64, Float64MultiArray

from simpl_core.envs.domains import domain
from simpl_core.envs.kitchen.env import KitchenEnv, mirror_observation
from simpl_core.teleop.cartesian import CartesianController, Twist
from simpl_ros.common.messages import STEP_TOPIC, read_step_or_warn, step_layout
from simpl_ros.common.node_main import parameter, run

WORLD_FRAMES = ("", "world")


class ServoNode(Node):
    def __init__(self):
        super().__init__("servo_node")
        controller = parameter(self, "controller", "arm_controller")
        self.timeout = parameter(self, "incoming_command_timeout", 0.1)
        spec = domain("kitchen")
        self.layout = step_layout(spec.state_dim, spec.action_dim)
        self.mirror = KitchenEnv()  # only its MuJoCo model and data: the arm's kinematics and gravity
        self.controller = CartesianController(self.mirror.model, self.mirror.data)
        self.twist, self.twist_at, self.gripper = Twist.zero(), -np.inf, 1.0
        self.mirrored = False  # the mirror shows the robot's latest state of a running episode
        self.command_pub = self.create_publisher(Float64MultiArray, f"{controller}/commands", 10)
        self.create_subscription(TwistStamped, "~/delta_twist_cmds", self._on_twist, 10)
        self.create_subscription(Float64, "~/gripper_cmd", self._on_gripper, 10)
        self.create_subscription(Float64MultiArray, STEP_TOPIC, self._on_step, 10)
        self.get_logger().info(
            f"servoing {self.get_fully_qualified_name()}/delta_twist_cmds onto "
            f"/{controller}/commands (twists older than {self.timeout:g} s count as zero)"
        )

    def _on_twist(self, msg: TwistStamped) -> None:
        if msg.header.frame_id not in WORLD_FRAMES:
            self.get_logger().warning(
                f"ignoring a twist in frame {msg.header.frame_id!r}: only world-frame twists "
                f"({' or '.join(map(repr, WORLD_FRAMES))}) are supported",
                throttle_duration_sec=2.0,
            )
            return
        linear, angular = msg.twist.linear, msg.twist.angular
        try:
            self.twist = Twist([linear.x, linear.y, linear.z], [angular.x, angular.y, angular.z], self.gripper)
        except ValueError as err:
            self.get_logger().warning(f"ignoring a twist: {err}", throttle_duration_sec=2.0)
            return
        self.twist_at = time.monotonic()
        if self.mirrored:
            self._command()

    def _on_gripper(self, msg: Float64) -> None:
        if not np.isfinite(msg.data):
            self.get_logger().warning("ignoring a NaN gripper command", throttle_duration_sec=2.0)
            return
        self.gripper = float(np.clip(msg.data, -1.0, 1.0))

    def _on_step(self, msg: Float64MultiArray) -> None:
        step = read_step_or_warn(self, self.layout, msg, "no command for it")
        if step is None:
            return
        self.mirrored = not step.ended
        if self.mirrored:
            mirror_observation(step.observation, self.mirror.model, self.mirror.data)
            self._command()

    def _command(self) -> None:
        fresh = time.monotonic() - self.twist_at <= self.timeout
        twist = self.twist if fresh else Twist.zero()
        twist.gripper = self.gripper
        action = self.controller.action(twist)
        self.command_pub.publish(Float64MultiArray(data=action.astype(np.float64).tolist()))


def main(args=None) -> None:
    sys.exit(run(ServoNode, args))


if __name__ == "__main__":
    main()
