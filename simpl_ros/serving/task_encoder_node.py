"""Task inference on the live graph: gathers high-level transitions (s, z, summed reward, done, s') from the step
and skill topics, keeps them as the context, and publishes the task embedding e for the selector.

Exploring (the first `exploration_episodes` episodes, default 20): a fresh e ~ p(e) = N(0, I) for every episode,
published as soon as the previous episode ends so the next one starts with it. Then e* = the posterior mean of
task_encoder.onnx over every gathered transition (or, with `e_star_sets` K, the mean over K sets of the
meta-training context size drawn from them), published once and kept. Each ended episode's
transitions also go out on the transitions topic (for on-robot adaptation). Services: ~/clear (std_srvs/Trigger:
forget the context, explore again) and ~/exploit (std_srvs/SetBool: true = encode now, false = explore). With
`load_context`, the exploration episodes kept in `context_dir` (an adaptation run's) are loaded at start-up.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from rclpy.node import Node
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import SetBool, Trigger

from simpl_core.rl.buffers import TransitionLayout
from simpl_core.runtime.protocol import EXPLORATION_EPISODES, check_e_star_sets, encode_e_star
from simpl_ros.common.episodes import EpisodeRecorder
from simpl_ros.common.messages import (
    EMBEDDING_TOPIC,
    EXPLOIT,
    EXPLORE,
    LATCHED,
    RECORDS,
    SKILL_TOPIC,
    STEP_TOPIC,
    STREAM_DEPTH,
    TRANSITIONS_TOPIC,
    MessageError,
    embedding_layout,
    read_step,
    rows_message,
    skill_layout,
    step_layout,
)
from simpl_ros.common.node_main import StartupError, open_bundle, parameter, run


class TaskEncoderNode(Node):
    def __init__(self):
        super().__init__("task_encoder")
        self.bundle = open_bundle(parameter(self, "bundle", "models/maze"), "task_encoder")
        self.exploration_episodes = parameter(self, "exploration_episodes", EXPLORATION_EPISODES)
        self.e_star_sets = check_e_star_sets(parameter(self, "e_star_sets", 0))  # 0: e* from the whole context
        self.settle = parameter(self, "settle_s", 0.2)  # wait for late skill messages
        self.rng = np.random.default_rng(parameter(self, "seed", 0))
        dims = self.bundle.manifest["dims"]
        self.layouts = (
            step_layout(dims["state"], dims["action"]),
            skill_layout(dims["latent"]),
            embedding_layout(dims["task"]),
        )
        self.recorder = EpisodeRecorder(TransitionLayout(dims["state"], dims["latent"]), self.bundle.skill_horizon)
        self.gathered: list[np.ndarray] = []
        self.mode = EXPLORE
        self.ended_at: dict[int, float] = {}  # episode -> clock time its last step came, until packed
        self.embedding_pub = self.create_publisher(Float64MultiArray, EMBEDDING_TOPIC, LATCHED)
        self.transitions_pub = self.create_publisher(Float64MultiArray, TRANSITIONS_TOPIC, RECORDS)
        self.create_subscription(Float64MultiArray, STEP_TOPIC, self._on_step, STREAM_DEPTH)
        self.create_subscription(Float64MultiArray, SKILL_TOPIC, self._on_skill, STREAM_DEPTH)
        self.create_service(Trigger, "~/clear", self._on_clear)
        self.create_service(SetBool, "~/exploit", self._on_exploit)
        self.create_timer(0.05, self._finish_episodes)
        if parameter(self, "load_context", False):  # resume: the exploration episodes an adaptation run kept
            self._load_context(Path(parameter(self, "context_dir", "")))
        if self.mode == EXPLORE:
            self._explore()
        self.get_logger().info(f"exploring for {self.exploration_episodes} episodes, then encoding e*")

    # --- inputs ------------------------------------------------------------------------------------------------
    def _on_step(self, msg: Float64MultiArray) -> None:
        try:
            step = read_step(self.layouts[0], msg)
        except MessageError as err:
            self.get_logger().warning(f"bad step message, left out of the context: {err}", throttle_duration_sec=2.0)
            return
        self.recorder.add_step(step)
        if step.ended:
            self.ended_at[step.episode] = self._now()
            if self.mode == EXPLORE and len(self.gathered) + len(self.ended_at) < self.exploration_episodes:
                self._explore()  # the next episode's e, out before it starts

    def _on_skill(self, msg: Float64MultiArray) -> None:
        try:
            fields = self.layouts[1].unpack(msg)
        except MessageError as err:
            self.get_logger().warning(f"bad skill message: {err}", throttle_duration_sec=2.0)
            return
        self.recorder.add_skill(int(fields["episode"][0]), int(fields["step"][0]), fields["z"])

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # --- episodes and e ----------------------------------------------------------------------------------------
    def _finish_episodes(self) -> None:
        """Pack every episode that ended more than settle_s ago (late skill messages are in by then)."""
        for episode, ended_at in sorted(self.ended_at.items()):
            if self._now() - ended_at < self.settle:
                continue
            del self.ended_at[episode]
            rows = self.recorder.pop(episode)
            self.transitions_pub.publish(rows_message(rows, episode))
            if self.mode == EXPLORE:
                self.gathered.append(rows)
                if len(self.gathered) >= self.exploration_episodes:
                    self._exploit()

    def _load_context(self, directory: Path) -> None:
        for path in sorted(directory.glob("*.npy")):
            rows = np.load(path)
            if rows.ndim != 2 or rows.shape[1] != self.recorder.layout.width:
                raise StartupError(
                    f"{path}: {rows.shape} is not a block of {self.recorder.layout.width}-wide transitions"
                )
            self.gathered.append(rows)
        if self.gathered:
            self.get_logger().info(f"loaded {len(self.gathered)} exploration episodes from {directory}")
        if len(self.gathered) >= self.exploration_episodes:
            self._exploit()

    def _explore(self) -> None:
        e = self.rng.standard_normal(self.layouts[2].fields[1][1])
        self.embedding_pub.publish(self.layouts[2].pack(mode=EXPLORE, e=e))

    def _exploit(self) -> bool:
        context = np.concatenate(self.gathered) if self.gathered else np.zeros((0, 0))
        if len(context) == 0:
            self.get_logger().warning(
                f"no transitions in {len(self.gathered)} exploration episodes: cannot encode e* "
                "(were skills published? ~/clear and explore again)"
            )
            return False
        e_star, _ = encode_e_star(
            self.bundle.encode_task, context, self.bundle.context_size, self.e_star_sets, self.rng
        )
        self.mode = EXPLOIT
        self.embedding_pub.publish(self.layouts[2].pack(mode=EXPLOIT, e=e_star))
        self.get_logger().info(
            f"e* from {len(context)} transitions of {len(self.gathered)} episodes: "
            f"{json.dumps([round(float(v), 3) for v in e_star])}"
        )
        return True

    # --- services ----------------------------------------------------------------------------------------------
    def _on_clear(self, _request, response):
        self.gathered, self.mode = [], EXPLORE
        self._explore()
        response.success, response.message = True, "context cleared; exploring"
        return response

    def _on_exploit(self, request, response):
        if request.data:
            response.success = self._exploit()
            response.message = "exploiting e*" if response.success else "no transitions gathered yet"
        else:
            self.mode = EXPLORE
            self._explore()
            response.success, response.message = True, "exploring"
        return response


def main(args=None) -> None:
    sys.exit(run(TaskEncoderNode, args))


if __name__ == "__main__":
    main()
