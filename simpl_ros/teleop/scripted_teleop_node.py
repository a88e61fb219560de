"""The scripted teleoperator as a ROS node: a stand-in for a person at the keyboard, recording demonstrations.

For each of `episodes` episodes it picks `subtasks_per_episode` distinct kitchen subtasks in a random order (or
performs the comma-separated `subtasks` given, e.g. "microwave,light switch"), asks
the demo recorder to start (/demo_recorder/start, which resets the sim), and performs them: every step (simpl/step)
it looks at the scene the observation shows and publishes an end-effector twist (geometry_msgs/TwistStamped on
/servo_node/delta_twist_cmds) and a gripper command (std_msgs/Float64 on /servo_node/gripper_cmd), exactly what
keyboard_teleop publishes. When the script is done (after `pause_steps` more steps) or after `max_steps` steps it
asks the recorder to save the episode (/demo_recorder/stop); an episode the sim ends (its horizon) the recorder saves
by itself. The recorder's ~/status says how many episodes are saved; once `episodes` are, the node exits with 0.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from std_msgs.msg import Float64, Float64MultiArray, String
from std_srvs.srv import Trigger

from simpl_core.envs.domains import domain
from simpl_core.envs.kitchen.env import KitchenEnv, mirror_observation
from simpl_core.envs.kitchen.task import SUBTASKS
from simpl_core.teleop.scripted import ScriptedTeleoperator, TeleopNoise
from simpl_ros.common.messages import (
    GRIPPER_TOPIC,
    LATCHED,
    STEP_TOPIC,
    TWIST_TOPIC,
    read_step_or_warn,
    step_layout,
    twist_message,
)
from simpl_ros.common.node_main import StartupError, parameter, run


class ScriptedTeleopNode(Node):
    def __init__(self):
        super().__init__("scripted_teleop")
        self.episodes = parameter(self, "episodes", 10)
        self.subtasks_per_episode = parameter(self, "subtasks_per_episode", 4)
        self.subtasks = [name.strip() for name in parameter(self, "subtasks", "").split(",") if name.strip()]
        unknown = sorted(set(self.subtasks) - set(SUBTASKS))
        if unknown:
            raise StartupError(
                f"unknown subtask(s) {', '.join(map(repr, unknown))}; the subtasks are: {', '.join(SUBTASKS)}"
            )
        self.max_steps = parameter(self, "max_steps", 500)
        self.pause_steps = parameter(self, "pause_steps", 5)
        self.noise = TeleopNoise(scale=parameter(self, "noise", 1.0))
        self.rng = np.random.default_rng(parameter(self, "seed", 0))
        recorder = parameter(self, "recorder", "/demo_recorder")
        spec = domain("kitchen")
        self.layout = step_layout(spec.state_dim, spec.action_dim)
        self.mirror = KitchenEnv()  # only its MuJoCo model and data: the scene the operator looks at
        self.twist_pub = self.create_publisher(TwistStamped, TWIST_TOPIC, 10)
        self.gripper_pub = self.create_publisher(Float64, GRIPPER_TOPIC, 10)
        self.start_client = self.create_client(Trigger, f"{recorder}/start")
        self.stop_client = self.create_client(Trigger, f"{recorder}/stop")
        self.create_subscription(Float64MultiArray, STEP_TOPIC, self._on_step, 10)
        self.create_subscription(String, f"{recorder}/status", self._on_status, LATCHED)
        self.saved: int | None = None  # episodes the recorder saved in this session, from its status
        self.expected_saved = 0  # ... once it has taken in how the last episode ended
        self.operator, self.waiting = None, False
        self.sim_episode = self.episode_before = -1  # the newest sim episode seen; the one before our start
        self.steps, self.pause = 0, self.pause_steps
        self.create_timer(0.2, self._next_episode)

    def _on_status(self, msg: String) -> None:
        self.saved = json.loads(msg.data)["saved"]

    def _next_episode(self) -> None:
        """Between episodes (no request in flight): stop once enough are saved, else start one when the recorder
        answers."""
        if self.operator is not None or self.waiting or self.saved is None or self.saved < self.expected_saved:
            return
        if self.saved >= self.episodes:
            self.get_logger().info(f"the recorder saved {self.saved} episodes: done")
            raise SystemExit(0)
        if self.start_client.service_is_ready():
            self.episode_before = self.sim_episode
            self._call(self.start_client, self._on_started)

    def _call(self, client, then) -> None:
        self.waiting = True
        client.call_async(Trigger.Request()).add_done_callback(then)

    def _on_started(self, future) -> None:
        self.waiting = False
        answer = future.result()
        if not answer.success:
            self.get_logger().warning(f"the recorder did not start: {answer.message}; trying again")
            return
        subtasks = self.subtasks or [
            str(name) for name in self.rng.choice(SUBTASKS, self.subtasks_per_episode, replace=False)
        ]
        self.operator = ScriptedTeleoperator(self.mirror.model, self.mirror.data, subtasks, self.rng, self.noise)
        self.steps, self.pause = 0, self.pause_steps
        self.saved_before = self.saved
        self.get_logger().info(f"episode {self.saved + 1}/{self.episodes}: {', '.join(subtasks)}")

    def _on_step(self, msg: Float64MultiArray) -> None:
        step = read_step_or_warn(self, self.layout, msg, "no twist for it")
        if step is None:
            return
        self.sim_episode = max(self.sim_episode, step.episode)
        # act on the episode our start began (its first steps may come before the recorder's answer does)
        if self.operator is None or self.waiting or step.episode <= self.episode_before:
            return
        if step.ended:  # the sim's horizon: the recorder saves the episode by itself
            self.operator, self.expected_saved = None, self.saved_before + 1
            return
        mirror_observation(step.observation, self.mirror.model, self.mirror.data)
        self.pause -= self.operator.done
        if self.pause <= 0 or self.steps >= self.max_steps:
            self._call(self.stop_client, self._on_saved)
            return
        twist = self.operator.twist()
        self._publish(twist)
        self.steps += 1

    def _publish(self, twist) -> None:
        self.gripper_pub.publish(Float64(data=float(twist.gripper)))
        self.twist_pub.publish(twist_message(self.get_clock().now().to_msg(), twist.linear, twist.angular))

    def _on_saved(self, future) -> None:
        answer = future.result()
        self.waiting, self.operator = False, None
        self.expected_saved = self.saved_before + answer.success
        self.get_logger().info(f"recorder: {answer.message}")


def main(args=None) -> None:
    sys.exit(run(ScriptedTeleopNode, args))


if __name__ == "__main__":
    main()
