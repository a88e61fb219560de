"""The kitchen arm on ros2_control hardware in place of the sim: the policy's nodes see the same topics.

Every control period (12.5 Hz x rtf) it publishes the sim node's step message on simpl/step (episode, step, reward,
flags, the action applied, the 59-D observation built from /joint_states and the perception topic; see
simpl_ros.hardware.ros2_control_arm), with the task's reward computed from the observation (SiMPL's in-order credit of
the completed subtasks), and a JSON summary on simpl/episode when an episode ends. So the decoder, selector and encoder
work unchanged. The policy's normalised 9-D actions arrive on /<policy_controller>/commands (the decoder's
`controller`), are made safe below the policy (scaled to joint velocities, velocity and position limits, NaN and
length checks: simpl_core.robots.safety) and go to the arm's forward velocity controller or joint trajectory
controller (`command_interface`). Watchdog: no policy command for `command_timeout_periods` control periods stops the
arm (throttled warning). Between episodes the arm is held and policy commands are ignored.

~/reset (std_srvs/Trigger) starts an episode and answers as the sim's does ({"episode", "task"}). It is refused, with
the reason, until the arm is heard, the `wait_for_nodes` hear the steps, and the kitchen is back in the sim's
start state (simpl_core.robots.reset): the first refusal sets the arm driving itself home (slowly, through the same
safety layer; `home_before_episode`), and the objects are checked on the perception topic, the refusal naming the
ones a person has to put back. A caller asks again until it is accepted (the adaptation node does). With
auto_reset, episodes follow each other (dry runs).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import Trigger

from simpl_core.envs.kitchen.env import CONTROL_RATE_HZ, KITCHEN_HORIZON, qpos_from_observation
from simpl_core.envs.kitchen.task import completed_subtasks
from simpl_core.robots.reset import StartState
from simpl_core.robots.safety import Freshness
from simpl_ros.common.messages import EPISODE_TOPIC, RECORDS, STEP_TOPIC, STREAM_DEPTH, step_layout
from simpl_ros.common.node_main import parameter, run, task_from, task_name
from simpl_ros.common.readiness import PolicyListening, answer_reset
from simpl_ros.hardware.ros2_control_arm import (
    KITCHEN_JOINT_NAMES,
    OBJECTS_TOPIC,
    POSITION,
    TRAJECTORY_CONTROLLER,
    VELOCITY_CONTROLLER,
    ArmConfig,
    Ros2ControlArm,
    required_limits,
)

ACTION_SCALE = 2.0  # FrankaKitchen turns an action in [-1, 1] into 2 x action rad/s (franka_env.py: act_rng)


class HwBridgeNode(Node):
    def __init__(self):
        super().__init__("hw_bridge")
        self.rtf = parameter(self, "rtf", 1.0)
        self.auto_reset = parameter(self, "auto_reset", False)
        self.horizon = parameter(self, "horizon", KITCHEN_HORIZON)
        task = self.declare_parameter("task", "", ParameterDescriptor(dynamic_typing=True)).value
        self.task = task_from(task, "kitchen")  # a TaskError stops the node with its reason
        self.period = 1.0 / (CONTROL_RATE_HZ * self.rtf)  # wall-clock seconds per control step
        self.arm = Ros2ControlArm(
            self,
            ArmConfig(
                joint_names=tuple(parameter(self, "joint_names", list(KITCHEN_JOINT_NAMES))),
                limits=required_limits(self),
                command_interface=parameter(self, "command_interface", POSITION),
                velocity_controller=parameter(self, "velocity_controller", VELOCITY_CONTROLLER),
                trajectory_controller=parameter(self, "trajectory_controller", TRAJECTORY_CONTROLLER),
                objects_topic=parameter(self, "objects_topic", OBJECTS_TOPIC),
                action_scale=parameter(self, "action_scale", ACTION_SCALE),
                period_s=1.0 / CONTROL_RATE_HZ,  # the robot's time: rtf only speeds up the fake arm's clock
                joint_states_timeout_s=parameter(self, "joint_states_timeout_s", 0.2),
                objects_timeout_s=parameter(self, "objects_timeout_s", 1.0),
            ),
        )
        self.arm.connect()
        self.start_state = StartState.kitchen(
            self.arm.config.limits,
            home_tolerance=parameter(self, "home_tolerance", 0.05),
            object_tolerance=parameter(self, "object_tolerance", 0.1),
        )
        self.home_first = parameter(self, "home_before_episode", True)
        self.home_speed = parameter(self, "home_speed", 0.25)  # of the policy's full joint speed
        self.homing = False
        self.layout = step_layout(self.arm.observation_dim, self.arm.action_dim)
        self.watchdog = Freshness(parameter(self, "command_timeout_periods", 2.0) * self.period)

        policy_topic = f"{parameter(self, 'policy_controller', 'policy')}/commands"
        self.step_pub = self.create_publisher(Float64MultiArray, STEP_TOPIC, STREAM_DEPTH)
        self.episode_pub = self.create_publisher(String, EPISODE_TOPIC, RECORDS)
        self.policy_sub = self.create_subscription(Float64MultiArray, policy_topic, self._on_policy, 10)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.listening = PolicyListening(self, self.step_pub, self.policy_sub, parameter(self, "wait_for_nodes", ""))
        self.command = np.zeros(self.arm.action_dim)
        self.applied = np.zeros(self.arm.action_dim, np.float32)
        self.episode, self.running, self.fresh_command = 0, False, False
        self.create_timer(self.period, self._tick)
        self.add_on_set_parameters_callback(self._on_parameters)
        self.get_logger().info(
            f"kitchen arm bridge at {CONTROL_RATE_HZ:g} Hz x rtf {self.rtf:g}, task "
            f"{task_name(self.task)}: policy on {self.policy_sub.topic_name} -> arm on "
            f"{self.arm.command_topic}"
        )
        if self.rtf != 1.0:
            self.get_logger().warning(f"rtf {self.rtf:g}: only for the fake arm; a real arm runs in real time")

    def _on_parameters(self, params) -> SetParametersResult:
        """auto_reset may change while running (the adaptation node turns it off); the rest is fixed at start-up."""
        for param in params:
            if param.name != "auto_reset":
                return SetParametersResult(successful=False, reason=f"{param.name} is fixed at start-up")
            self.auto_reset = bool(param.value)
        return SetParametersResult(successful=True)

    def _on_policy(self, msg: Float64MultiArray) -> None:
        if not self.running:
            if any(msg.data):
                self.get_logger().info(
                    "no episode running: policy commands ignored (~/reset starts one)", throttle_duration_sec=5.0
                )
            return
        self.command = np.asarray(msg.data, np.float64)
        self.fresh_command = True
        self.watchdog.mark(time.monotonic())
        self.applied = self.arm.send_action(self.command)

    def _on_reset(self, _request, response):
        return answer_reset(
            response,
            self._cannot_start(),
            self.start_episode,
            lambda: {"episode": self.episode, "task": task_name(self.task)},
        )

    def _cannot_start(self) -> str | None:
        """Why an episode cannot start now, or None: the arm must be heard and its controller must listen, the policy
        must hear the bridge, and the kitchen must be in its start state (an arm away from home is sent there)."""
        if not self.arm.ready:
            return f"no fresh {self.arm.joint_sub.topic_name} from the arm"
        if not self.arm.controller_listening:
            return f"no controller subscribed to {self.arm.command_topic}"
        if (reason := self.listening.reason()) is not None:
            return reason
        if self.arm.objects_heard.stale(time.monotonic()):
            return f"no fresh object state on {self.arm.objects_sub.topic_name} (perception)"
        observation = self.arm.get_observation()
        if self.home_first and (error := self.start_state.arm_error(observation)) > self.start_state.home_tolerance:
            self.homing = True
            return f"moving the arm to its start pose (largest joint error {error:.2f})"
        if misplaced := self.start_state.misplaced_objects(observation):
            return f"put the kitchen back in its start state: {', '.join(misplaced)} off (docs/hardware.md)"
        return None

    def _home(self) -> None:
        """One control period of driving the arm home; held once there."""
        observation = self.arm.get_observation()
        if self.start_state.arm_error(observation) <= self.start_state.home_tolerance / 2:
            self.homing = False
            self.arm.stop()
            self.get_logger().info("arm at its start pose")
            return
        self.arm.send_action(self.start_state.homing_action(observation, self.arm.config.action_scale, self.home_speed))

    def start_episode(self) -> None:
        self.homing = False
        self.episode += 1
        self.t, self.episode_return, self.credited, self.missed = 0, 0.0, 0, 0
        self.command[:] = 0.0
        self.applied[:] = 0.0
        self.watchdog.mark(time.monotonic())  # the policy has one timeout to answer the first step
        self.running = True
        self._publish(self.arm.get_observation(), 0.0, False, False)

    def _tick(self) -> None:
        if not self.running:
            if self.homing:
                self._home()
            elif self.auto_reset:
                self._start_when_ready()
            return
        self.missed += not self.fresh_command
        self.fresh_command = False
        if self.watchdog.stale(time.monotonic()):
            self.applied[:] = 0.0
            self.arm.stop()
            self.get_logger().warning(
                f"no policy command on {self.policy_sub.topic_name} for more than "
                f"{self.watchdog.timeout_s * 1e3:.0f} ms: arm held",
                throttle_duration_sec=2.0,
            )
        else:  # again, against the newest joint positions: a slow policy must not carry a joint past a limit
            self.applied = self.arm.send_action(self.command)
        observation = self.arm.get_observation()
        self.t += 1
        reward, terminated = self._score(observation)
        truncated = not terminated and self.t >= self.horizon
        self.episode_return += reward
        self._publish(observation, reward, terminated, truncated)
        if terminated or truncated:
            self._end(terminated)

    def _start_when_ready(self) -> None:
        reason = self._cannot_start()
        if reason is None:
            self.start_episode()
        else:
            self.get_logger().info(f"waiting to start an episode: {reason}", throttle_duration_sec=5.0)

    def _score(self, observation: np.ndarray) -> tuple[float, bool]:
        """The task's reward for reaching this observation (the sim's rule, applied to measured joint positions)
        and whether all its subtasks are now credited."""
        if self.task is None:
            return 0.0, False
        credited = self.task.credit(self.credited, completed_subtasks(qpos_from_observation(observation)))
        reward, self.credited = float(credited - self.credited), credited
        return reward, credited == len(self.task.subtasks)

    def _end(self, success: bool) -> None:
        self.running = False
        self.arm.stop()
        summary = {
            "episode": self.episode,
            "task": task_name(self.task),
            "return": self.episode_return,
            "success": success,
            "steps": self.t,
            "missed_commands": self.missed,
        }
        self.get_logger().info(f"episode {self.episode} ended: {summary}; the arm is held")
        self.episode_pub.publish(String(data=json.dumps(summary)))

    def _publish(self, observation, reward, terminated, truncated) -> None:
        self.step_pub.publish(
            self.layout.pack(
                episode=self.episode,
                step=self.t,
                reward=reward,
                terminated=terminated,
                truncated=truncated,
                action=self.applied,
                observation=observation,
            )
        )


def main(args=None) -> None:
    sys.exit(run(HwBridgeNode, args))


if __name__ == "__main__":
    main()
