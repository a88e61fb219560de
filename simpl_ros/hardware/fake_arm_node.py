"""A stand-in for the kitchen arm's ros2_control stack and perception, for tests and dry runs without hardware.

Like ros2_control's mock hardware, commands become states, with no physics: joint velocities on
/<velocity_controller>/commands (a forward velocity controller) are integrated at `rate_hz`; a trajectory on
/<trajectory_controller>/joint_trajectory (a joint trajectory controller) is followed in a straight line to its last
point, arriving at its time_from_start, then held. It publishes /joint_states and, on the perception topic, the
kitchen's objects at rest (constant: nothing here moves them). It starts in the sim's reset pose (the simpl_core
kitchen) and has no joint limits of its own: the bridge's keep it in range. `rtf` runs its clock faster than the
wall clock, matching the bridge's rtf.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from rclpy.duration import Duration
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from simpl_core.robots.reset import kitchen_at_rest
from simpl_ros.common.messages import JOINT_STATES_TOPIC
from simpl_ros.common.node_main import parameter, run
from simpl_ros.hardware.ros2_control_arm import (
    KITCHEN_JOINT_NAMES,
    OBJECTS_TOPIC,
    TRAJECTORY_CONTROLLER,
    VELOCITY_CONTROLLER,
    objects_message,
)


class FakeArmNode(Node):
    def __init__(self):
        super().__init__("fake_arm")
        self.rtf = parameter(self, "rtf", 1.0)
        self.joint_names = parameter(self, "joint_names", list(KITCHEN_JOINT_NAMES))
        start = kitchen_at_rest(parameter(self, "seed", 0))
        joints = len(self.joint_names)
        self.position, self.velocity = start[:joints], np.zeros(joints)
        self.objects = objects_message(start)
        self.goal: tuple[np.ndarray, float] | None = None  # a trajectory's last point and when to be there
        velocity_topic = f"{parameter(self, 'velocity_controller', VELOCITY_CONTROLLER)}/commands"
        trajectory_topic = f"{parameter(self, 'trajectory_controller', TRAJECTORY_CONTROLLER)}/joint_trajectory"
        self.create_subscription(Float64MultiArray, velocity_topic, self._on_velocity, 10)
        self.create_subscription(JointTrajectory, trajectory_topic, self._on_trajectory, 10)
        self.joint_pub = self.create_publisher(JointState, JOINT_STATES_TOPIC, 10)
        self.objects_pub = self.create_publisher(Float64MultiArray, parameter(self, "objects_topic", OBJECTS_TOPIC), 10)
        self.now = self._arm_time()
        rate = parameter(self, "rate_hz", 100.0)
        self.create_timer(1.0 / rate, self._tick)
        self.get_logger().info(
            f"fake arm of {joints} joints at {rate:g} Hz x rtf {self.rtf:g}: velocities on "
            f"/{velocity_topic}, trajectories on /{trajectory_topic}"
        )

    def _arm_time(self) -> float:
        """The arm's time, in seconds: the wall clock sped up by rtf."""
        return time.monotonic() * self.rtf

    def _on_velocity(self, msg: Float64MultiArray) -> None:
        if len(msg.data) != len(self.joint_names):  # a forward command controller refuses these too
            self.get_logger().warning(
                f"ignoring a command of {len(msg.data)} values for {len(self.joint_names)} joints",
                throttle_duration_sec=2.0,
            )
            return
        self.velocity, self.goal = np.asarray(msg.data, np.float64), None

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        if list(msg.joint_names) != self.joint_names or not msg.points:
            self.get_logger().warning(
                f"ignoring a trajectory for joints {list(msg.joint_names)} with {len(msg.points)} points",
                throttle_duration_sec=2.0,
            )
            return
        point = msg.points[-1]
        arrival = self._arm_time() + Duration.from_msg(point.time_from_start).nanoseconds * 1e-9
        self.goal = np.asarray(point.positions, np.float64), arrival

    def _tick(self) -> None:
        now = self._arm_time()
        dt, self.now = now - self.now, now
        if self.goal is not None:  # on the straight line to the point; once there, stay
            target, arrival = self.goal
            self.velocity = (target - self.position) / max(arrival - now, dt)
        self.position = self.position + self.velocity * dt
        joints = JointState(name=self.joint_names, position=self.position.tolist(), velocity=self.velocity.tolist())
        joints.header.stamp = self.get_clock().now().to_msg()
        self.joint_pub.publish(joints)
        self.objects_pub.publish(self.objects)


def main(args=None) -> None:
    sys.exit(run(FakeArmNode, args))


if __name__ == "__main__":
    main()
