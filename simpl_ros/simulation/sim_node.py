"""The simulated robot: a simpl_core MuJoCo env stepped at its control rate times a real-time factor, or in lock-step.

Takes commands the way a ros2_control forward-command controller does (std_msgs/Float64MultiArray on
/<controller>/commands; the last command is held for `command_timeout_steps` control steps, then zeroed, as
such a controller with a safety timer does), publishes /joint_states, the step
message (observation, reward, episode flags) and a JSON summary when an episode ends (with every step's
observation -> command latency, and the steps that had no new command: missed deadlines). Services: ~/reset
(std_srvs/Trigger) starts an episode (refused, with the reason, until the `wait_for_nodes` hear the
steps); the task is the `task` parameter (validated; a bad one is refused with the
reason), e.g. `task:="[12, 7]"`, `task:=maze-target-10:3` or `task:="microwave,kettle,light switch,slide cabinet"`;
empty means task-agnostic (no reward, episodes end at the horizon: demonstration recording). With auto_reset,
episodes follow each other.

Lock-step (`lockstep:=true`): the sim steps as soon as the command answering its last observation arrives (or, if
none comes within `lockstep_timeout_s` of wall-clock, with the held command, counted as missed), and publishes its
time on /clock (rosgraph_msgs/Clock, one control period per step), as Gazebo does: nodes run with
`use_sim_time:=true` see time advance only when the robot does. Every step gets its command, whatever the CPU, and
the graph runs as fast as it answers. `rtf` is not used then.
"""

from __future__ import annotations

import json
import sys
import time

import gymnasium
import numpy as np
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.time import Time
from rosgraph_msgs.msg import Clock as ClockMessage
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import Trigger

import simpl_core.envs  # noqa: F401  (registers the simpl/ envs)
from simpl_core.envs.domains import domain
from simpl_core.tasks import TaskError
from simpl_ros.common.messages import EPISODE_TOPIC, JOINT_STATES_TOPIC, RECORDS, STEP_TOPIC, STREAM_DEPTH, step_layout
from simpl_ros.common.node_main import parameter, run, task_from, task_name
from simpl_ros.common.readiness import PolicyListening, answer_reset


class SimNode(Node):
    def __init__(self):
        super().__init__("sim")
        self.domain = domain(parameter(self, "domain", "maze"))
        self.rtf = parameter(self, "rtf", 1.0)
        self.lockstep = parameter(self, "lockstep", False)
        # lock-step: wall-clock seconds to wait for a step's command before stepping without it (a missed deadline)
        self.lockstep_timeout = parameter(self, "lockstep_timeout_s", 0.5)
        self.auto_reset = parameter(self, "auto_reset", False)
        self.seed = parameter(self, "seed", 0)
        controller = parameter(self, "controller", "ball_controller")
        horizon = parameter(self, "horizon", self.domain.horizon)
        task = self.declare_parameter("task", "", ParameterDescriptor(dynamic_typing=True)).value
        self.task = task_from(task, self.domain.name)  # a TaskError stops the node with its reason
        self.env = gymnasium.make(self.domain.env_id, task=self.task, max_episode_steps=horizon)
        model = self.env.unwrapped.model
        joints = [model.joint(name) for name in self.domain.robot_joints]
        self.joint_names = [name.removeprefix("robot:") for name in self.domain.robot_joints]
        self.joint_qpos = [int(joint.qposadr[0]) for joint in joints]
        self.joint_qvel = [int(joint.dofadr[0]) for joint in joints]
        self.layout = step_layout(self.domain.state_dim, self.domain.action_dim)
        self.add_on_set_parameters_callback(self._on_parameters)

        self.command = np.zeros(self.domain.action_dim)
        self.fresh_command = False
        # like a forward-command controller with a safety timer: hold the last command this many steps, then zero
        self.command_timeout_steps = parameter(self, "command_timeout_steps", 5)
        self.stale_steps = 0
        self.step_pub = self.create_publisher(Float64MultiArray, STEP_TOPIC, STREAM_DEPTH)
        self.joint_pub = self.create_publisher(JointState, JOINT_STATES_TOPIC, 10)
        self.episode_pub = self.create_publisher(String, EPISODE_TOPIC, RECORDS)
        self.command_sub = self.create_subscription(Float64MultiArray, f"{controller}/commands", self._on_command, 10)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.episode = 0
        self.running = False
        self.observed_at: float | None = None  # when the last observation went out, until a command answers it
        self.sim_steps = 0  # env steps since start-up: the sim's time on /clock in lock-step
        if self.lockstep:
            self.clock_pub = self.create_publisher(ClockMessage, "/clock", 10)
            # a steady wall clock: the deadline and the start of auto_reset's first episode
            self.create_timer(0.01, self._tick, clock=Clock(clock_type=ClockType.STEADY_TIME))
            pace = "in lock-step with its commands (time on /clock)"
        else:
            self.create_timer(1.0 / (self.domain.control_rate_hz * self.rtf), self._tick)
            pace = f"at {self.domain.control_rate_hz:g} Hz x rtf {self.rtf:g}"
        self.get_logger().info(
            f"{self.domain.name} sim {pace}, task {task_name(self.task)}, commands on /{controller}/commands"
        )
        # episodes (auto_reset's first, and ~/reset's) wait until the named policy nodes hear the step topic
        self.listening = PolicyListening(self, self.step_pub, self.command_sub, parameter(self, "wait_for_nodes", ""))

    def _on_parameters(self, params) -> SetParametersResult:
        for param in params:
            if param.name == "task":
                try:
                    self.task = task_from(param.value, self.domain.name)
                except TaskError as err:
                    return SetParametersResult(successful=False, reason=str(err))
                self.env.unwrapped.set_task(self.task)
                self.get_logger().info(f"task set to {task_name(self.task)} (from the next reset)")
            elif param.name == "auto_reset":
                self.auto_reset = bool(param.value)
            elif param.name in ("domain", "horizon", "controller", "rtf", "lockstep"):
                return SetParametersResult(successful=False, reason=f"{param.name} is fixed at start-up")
        return SetParametersResult(successful=True)

    def _on_command(self, msg: Float64MultiArray) -> None:
        command = np.asarray(msg.data, np.float64)
        if command.shape != (self.domain.action_dim,) or not np.isfinite(command).all():
            self.get_logger().warning(
                f"ignoring a command of {command.size} values (want {self.domain.action_dim} finite); holding zero",
                throttle_duration_sec=2.0,
            )
            command = np.zeros(self.domain.action_dim)
        self.command = np.clip(command, self.domain.action_low, self.domain.action_high)
        self.fresh_command = True
        if self.observed_at is not None:  # the first command after an observation answers it
            self.latency_ms[self.t] = round((time.perf_counter() - self.observed_at) * 1e3, 3)
            self.observed_at = None
            if self.lockstep and self.running:
                self._advance()

    def _on_reset(self, _request, response):
        return answer_reset(
            response,
            self.listening.reason(),
            self.start_episode,
            lambda: {"episode": self.episode, "task": task_name(self.task)},
        )

    def start_episode(self) -> None:
        self.episode += 1
        observation, _ = self.env.reset(seed=self.seed * 100_003 + self.episode)
        self.command[:] = 0.0
        self.fresh_command = False
        self.applied = np.zeros_like(self.command)
        self.t, self.episode_return, self.missed = 0, 0.0, 0
        self.latency_ms: dict[int, float] = {}  # step -> observation published -> command received (answered steps)
        self.running = True
        self._publish(observation, 0.0, False, False)

    def _tick(self) -> None:
        if not self.running:
            if self.listening.reason() is None and self.auto_reset and self.episode == 0:
                self.start_episode()
        elif not self.lockstep or time.perf_counter() - self.published_at > self.lockstep_timeout:
            self._advance()

    def _advance(self) -> None:
        """One control step with the command held now."""
        self.missed += not self.fresh_command
        self.stale_steps = 0 if self.fresh_command else self.stale_steps + 1
        self.fresh_command = False
        if self.stale_steps > self.command_timeout_steps and self.command.any():
            self.command[:] = 0.0  # the robot's own watchdog: nobody is commanding it any more
            self.get_logger().warning(f"no command for {self.stale_steps} control steps: holding zero")
        self.applied = self.command.astype(np.float32)
        observation, reward, terminated, truncated, _ = self.env.step(self.applied)
        self.t += 1
        self.sim_steps += 1
        self.episode_return += reward
        self._publish(observation, reward, terminated, truncated)
        if terminated or truncated:
            self.running = False
            summary = {
                "episode": self.episode,
                "task": task_name(self.task),
                "return": self.episode_return,
                "success": bool(terminated),
                "steps": self.t,
                "missed_commands": self.missed,
            }
            self.get_logger().info(f"episode {self.episode} ended: {summary}")
            summary["latency_ms"] = self.latency_ms
            self.episode_pub.publish(String(data=json.dumps(summary)))
            if self.auto_reset:
                self.start_episode()

    def _publish(self, observation, reward, terminated, truncated) -> None:
        self.published_at = time.perf_counter()
        self.observed_at = None if terminated or truncated else self.published_at
        if self.lockstep:  # the time first, so that a node hears the step at its time
            self.clock_pub.publish(ClockMessage(clock=self._now().to_msg()))
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
        data = self.env.unwrapped.data
        joints = JointState(
            name=self.joint_names,
            position=data.qpos[self.joint_qpos].tolist(),
            velocity=data.qvel[self.joint_qvel].tolist(),
        )
        joints.header.stamp = self._now().to_msg()
        self.joint_pub.publish(joints)

    def _now(self) -> Time:
        """The robot's time: the simulated one in lock-step, the wall clock otherwise."""
        if self.lockstep:
            return Time(nanoseconds=round(self.sim_steps * 1e9 / self.domain.control_rate_hz))
        return self.get_clock().now()


def main(args=None) -> None:
    sys.exit(run(SimNode, args))


if __name__ == "__main__":
    main()
