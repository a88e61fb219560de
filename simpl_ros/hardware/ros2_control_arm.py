"""The real kitchen arm behind the Robot seam (simpl_core.robots.base), over ros2_control's standard topics.

In: /joint_states (sensor_msgs/JointState, e.g. from joint_state_broadcaster: the 9 joints, found by name, all in one
message) and the objects' state on a perception topic (std_msgs/Float64MultiArray laid out as OBJECTS_LAYOUT: the
kitchen's 21 object positions then its 20 object velocities, in OBSERVATION_NAMES order, from mocap or a state
estimator). Out: the policy's action made safe (simpl_core.robots.safety) as joint velocities to a forward velocity
controller (/<velocity_controller>/commands, std_msgs/Float64MultiArray) or as a one-point
trajectory_msgs/JointTrajectory one control period ahead to a joint trajectory controller
(/<trajectory_controller>/joint_trajectory). Nothing goes to the arm before it has been heard.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from rclpy.duration import Duration
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from simpl_core.envs.kitchen.env import (
    ACTION_NAMES,
    OBJECT_POSITIONS,
    OBJECT_VELOCITIES,
    OBSERVATION_NAMES,
    ROBOT_JOINTS,
)
from simpl_core.robots.base import Robot
from simpl_core.robots.safety import Freshness, JointLimits, command_problem, safe_velocity
from simpl_ros.common.messages import JOINT_STATES_TOPIC, Layout, MessageError
from simpl_ros.common.node_main import StartupError, WarningsByKind

KITCHEN_JOINT_NAMES = tuple(name.removeprefix("robot:") for name in ROBOT_JOINTS)  # as the sim node publishes them
OBJECTS_TOPIC = "kitchen/objects"
VELOCITY_CONTROLLER, TRAJECTORY_CONTROLLER = "forward_velocity_controller", "joint_trajectory_controller"
OBJECTS_LAYOUT = Layout((("object_positions", 21), ("object_velocities", 20)))  # observation[18:59]
VELOCITY, POSITION = "velocity", "position"  # the command interfaces


def objects_message(observation: np.ndarray) -> Float64MultiArray:
    """The perception message that reports the objects of a 59-D kitchen observation."""
    return OBJECTS_LAYOUT.pack(
        object_positions=observation[OBJECT_POSITIONS], object_velocities=observation[OBJECT_VELOCITIES]
    )


@dataclass(frozen=True)
class ArmConfig:
    joint_names: tuple[str, ...]
    """in action order"""
    limits: JointLimits
    command_interface: str
    """VELOCITY or POSITION"""
    velocity_controller: str
    trajectory_controller: str
    objects_topic: str
    action_scale: float
    """rad/s (m/s for the fingers) per unit of normalised action"""
    period_s: float
    """one control step in the robot's time (0.08 s for the kitchen)"""
    joint_states_timeout_s: float
    objects_timeout_s: float


def required_limits(node) -> JointLimits:
    """The joint limits from the node's parameters; no defaults in code: they come from the params YAML."""
    values = {}
    for field, name in (("lower", "position_lower"), ("upper", "position_upper"), ("velocity", "velocity_limits")):
        value = node.declare_parameter(name, Parameter.Type.DOUBLE_ARRAY).value
        if value is None:
            raise StartupError(f"parameter {name} is required, one value per joint (config/kitchen_hw.params.yaml)")
        values[field] = value
    return JointLimits(**values)


class Ros2ControlArm(Robot):
    observation_dim = len(OBSERVATION_NAMES)
    action_dim = len(ACTION_NAMES)

    def __init__(self, node, config: ArmConfig):
        if config.command_interface not in (VELOCITY, POSITION):
            raise StartupError(f"command_interface {config.command_interface!r}: use {VELOCITY} or {POSITION}")
        if len(config.joint_names) != self.action_dim or config.limits.lower.size != self.action_dim:
            raise StartupError(
                f"the kitchen arm has {self.action_dim} joints: got {len(config.joint_names)} names "
                f"and {config.limits.lower.size} limits"
            )
        self.node, self.config, self.log = node, config, node.get_logger()
        self.position, self.velocity = np.zeros(self.action_dim), np.zeros(self.action_dim)
        self.objects = np.zeros(OBJECTS_LAYOUT.size)
        self.joints = Freshness(config.joint_states_timeout_s)
        self.objects_heard = Freshness(config.objects_timeout_s)
        self.target: np.ndarray | None = None  # position interface: the last point sent
        self.joint_sub = self.objects_sub = self.publisher = None  # made by connect()
        self.warnings = WarningsByKind(self.log)

    def connect(self) -> None:
        node, config = self.node, self.config
        self.joint_sub = node.create_subscription(JointState, JOINT_STATES_TOPIC, self._on_joint_states, 10)
        self.objects_sub = node.create_subscription(Float64MultiArray, config.objects_topic, self._on_objects, 10)
        if config.command_interface == VELOCITY:
            self.publisher = node.create_publisher(Float64MultiArray, f"{config.velocity_controller}/commands", 10)
        else:
            self.publisher = node.create_publisher(
                JointTrajectory, f"{config.trajectory_controller}/joint_trajectory", 10
            )

    def disconnect(self) -> None:
        self.stop()

    @property
    def ready(self) -> bool:
        return not self.joints.stale(time.monotonic())

    @property
    def controller_listening(self) -> bool:
        """Whether a controller subscribes to the commands (else the arm would stand still through an episode)."""
        return self.publisher.get_subscription_count() > 0

    @property
    def command_topic(self) -> str:
        return self.publisher.topic_name

    def _on_joint_states(self, msg: JointState) -> None:
        missing = [name for name in self.config.joint_names if name not in msg.name]
        if missing:
            self.log.warning(
                f"{self.joint_sub.topic_name} without {', '.join(missing)}: ignored", throttle_duration_sec=2.0
            )
            return
        index = [msg.name.index(name) for name in self.config.joint_names]
        self.position = np.asarray(msg.position, np.float64)[index]
        # some drivers publish positions only: their velocities read as zero
        velocities = len(msg.velocity) == len(msg.name)
        self.velocity = np.asarray(msg.velocity, np.float64)[index] if velocities else np.zeros(self.action_dim)
        self.joints.mark(time.monotonic())

    def _on_objects(self, msg: Float64MultiArray) -> None:
        try:
            fields = OBJECTS_LAYOUT.unpack(msg)
        except MessageError as err:
            self.log.warning(f"bad object state on {self.objects_sub.topic_name}: {err}", throttle_duration_sec=2.0)
            return
        self.objects = np.concatenate([fields["object_positions"], fields["object_velocities"]])
        self.objects_heard.mark(time.monotonic())

    def get_observation(self) -> np.ndarray:
        if self.objects_heard.stale(time.monotonic()):
            self.objects = np.zeros(OBJECTS_LAYOUT.size)
            self.log.warning(
                f"no object state on {self.objects_sub.topic_name} for more than "
                f"{self.config.objects_timeout_s:g} s: the observation's objects read zero",
                throttle_duration_sec=2.0,
            )
        return np.concatenate([self.position, self.velocity, self.objects]).astype(np.float32)

    def send_action(self, action: np.ndarray) -> np.ndarray:
        action = np.asarray(action, np.float64)
        problem = self._problem(action)
        if problem is not None:
            self.warnings.warn(f"arm held: {problem}")
            self.stop()
            return np.zeros(self.action_dim, np.float32)
        config = self.config
        velocity = safe_velocity(action, self.position, config.limits, config.action_scale, config.period_s)
        if config.command_interface == VELOCITY:
            self.publisher.publish(Float64MultiArray(data=velocity.tolist()))
        else:  # what the sim does with a velocity: a position target one control period ahead
            self.target = self.position + velocity * config.period_s
            self._send_point(self.target)
        return (velocity / config.action_scale).astype(np.float32)

    def _problem(self, action: np.ndarray) -> str | None:
        if not self.joints.heard:
            return f"no {self.joint_sub.topic_name} from the arm yet"
        if self.joints.stale(time.monotonic()):
            return f"{self.joint_sub.topic_name} older than {self.config.joint_states_timeout_s:g} s"
        return command_problem(action, self.action_dim)

    def stop(self) -> None:
        """Bring the arm to rest: zero velocity, or hold the last point sent (the measured position if none was).
        Nothing at all before the arm has been heard."""
        if not self.joints.heard:
            return
        if self.config.command_interface == VELOCITY:
            self.publisher.publish(Float64MultiArray(data=[0.0] * self.action_dim))
        else:
            self._send_point(self.target if self.target is not None else self.position)

    def _send_point(self, positions: np.ndarray) -> None:
        # a zero header stamp: the controller starts the trajectory when it arrives
        point = JointTrajectoryPoint(
            positions=positions.tolist(), time_from_start=Duration(seconds=self.config.period_s).to_msg()
        )
        self.publisher.publish(JointTrajectory(joint_names=list(self.config.joint_names), points=[point]))
