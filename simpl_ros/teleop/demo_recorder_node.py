"""Records teleoperated demonstrations into an offline dataset (Minari layout), episode by episode, the way a lab's
recorder does (LeRobot's lerobot-record): start an episode, then stop and save it, or discard it and record it again.

Each saved episode is appended to the dataset at once (the first one creates it), so a crash loses at most the
episode being recorded, and a later session with the same `dataset` continues it. The dataset holds observations and
actions only (rewards zero, no task labels), with the domain's env spec in its metadata, like `simpl data maze`.

Pairing: every step message carries the action the robot applied to reach it, so an episode is the observations
o_0..o_T of sim steps 0..T and the actions a_1..a_T taken from steps 1..T (T >= 1, or nothing is saved).
Lost or foreign messages never corrupt an episode: a malformed step message, a gap in step numbers or a step of
another sim episode (someone else reset the sim) drops the episode being recorded, with a warning that says why;
record it again with ~/start.

Subscribes:  simpl/step (std_msgs/Float64MultiArray, messages.step_layout of the domain); with `bag`, the bag_topics
             (raw CDR, written to the bag as they come, stamped with the node's clock).
Publishes:   ~/status (std_msgs/String, latched JSON, on every change): state ("idle", "starting": waiting for the
             new episode's step 0, or "recording"), episode (the index the episode being recorded gets when saved),
             sim_episode, steps (its actions so far), saved (episodes saved by this session), last_event (the last
             save, discard or drop, with its reason).
Services (std_srvs/Trigger):
  ~/start    asks the sim to reset (sim_reset_service) and answers at once; recording begins with the first step-0
             message that follows (steps of the episode before, still in flight, are ignored). No step 0 within
             start_timeout_s, or a sim that refuses to reset, ends the start with the reason in ~/status.
  ~/stop     ends the episode and appends it to the dataset; the answer gives its index and length.
  ~/discard  drops the episode being recorded (or the start still waiting for its step 0).
  Calls in the wrong order (stop while idle, start while recording) answer success=False with the reason. An episode
  also saves itself when its sim episode ends (terminated or truncated) or after max_episode_steps actions.
Parameters:
  dataset            dataset directory, required; its name ends in -vN (Minari ids), e.g. datasets/kitchen-teleop-v0.
                     An existing dataset is continued if it has the domain's observation and action spaces.
  domain             "kitchen" (default) or "maze": the step layout, the spaces and the env spec of the dataset.
  sim_reset_service  "/sim/reset" (default): the std_srvs/Trigger service that starts an episode.
  start_timeout_s    5.0 (default): how long ~/start waits for the new episode's step 0.
  max_episode_steps  0 (default: no limit): save an episode by itself once it has this many actions.
  bag                "" (default) or "none" (a launch argument cannot be empty): no bag; else a new directory for an
                     MCAP rosbag2 bag (rosbags) of the raw topics, the whole session long; closed cleanly on Ctrl-C
                     or SIGTERM.
  bag_topics         the topics bagged, each "TOPIC TYPE", e.g. "joint_states sensor_msgs/msg/JointState"; default:
                     simpl/step, joint_states, servo_node/delta_twist_cmds, servo_node/gripper_cmd and
                     <controller>/commands.
  controller         "arm_controller" (default): whose /<controller>/commands the default bag_topics include.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import gymnasium
import numpy as np
from rclpy.node import Node
from rosbags.interfaces import Connection
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore
from rosbags.typesys.store import Typestore
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import Trigger

import simpl_core.envs  # noqa: F401  (registers the simpl/ envs)
from simpl_core.data.minari_io import DATASET_ID_RE, DatasetError, Episode, append_episodes, load_dataset, write_dataset
from simpl_core.envs.domains import domain
from simpl_ros.common.messages import (
    JOINT_STATES_TOPIC,
    LATCHED,
    STEP_TOPIC,
    MessageError,
    Step,
    read_step,
    step_layout,
)
from simpl_ros.common.node_main import StartupError, parameter, run

IDLE, STARTING, RECORDING = "idle", "starting", "recording"
NO_BAG = ("", "none")
ALGORITHM_NAME = "teleoperation (simpl_ros demo_recorder)"
QUEUE_DEPTH = 100  # steps and bagged messages wait here while an episode is written to disk


def default_bag_topics(controller: str) -> list[str]:
    return [
        f"{STEP_TOPIC} std_msgs/msg/Float64MultiArray",
        f"{JOINT_STATES_TOPIC} sensor_msgs/msg/JointState",
        "servo_node/delta_twist_cmds geometry_msgs/msg/TwistStamped",
        "servo_node/gripper_cmd std_msgs/msg/Float64",
        f"{controller}/commands std_msgs/msg/Float64MultiArray",
    ]


def bag_topic(entry: str, typestore: Typestore) -> tuple[str, str, type]:
    """A bag_topics entry as (topic, type name, rclpy message class); refuses what neither rclpy nor rosbags knows."""
    try:
        topic, type_name = entry.split()
        package, kind, name = type_name.split("/")
        message_class = getattr(importlib.import_module(f"{package}.{kind}"), name)
    except ValueError:
        raise StartupError(
            f"bag_topics entry {entry!r}: expected 'TOPIC TYPE', e.g. 'joint_states sensor_msgs/msg/JointState'"
        ) from None
    except (ImportError, AttributeError):
        raise StartupError(f"bag_topics entry {entry!r}: no message type {type_name} is installed") from None
    if type_name not in typestore.fielddefs:
        raise StartupError(f"bag_topics entry {entry!r}: rosbags' kilted typestore does not know {type_name}")
    return topic, type_name, message_class


def answer(response: Trigger.Response, success: bool, message: str) -> Trigger.Response:
    response.success, response.message = success, message
    return response


class DemoRecorderNode(Node):
    def __init__(self):
        super().__init__("demo_recorder")
        # rclpy destroys the node even when it fails to start: destroy_node finds these set
        self.state, self.bag = IDLE, None
        self.domain = domain(parameter(self, "domain", "kitchen"))
        self.dataset = Path(parameter(self, "dataset", ""))
        reset_service = parameter(self, "sim_reset_service", "/sim/reset")
        self.start_timeout_s = parameter(self, "start_timeout_s", 5.0)
        self.max_steps = parameter(self, "max_episode_steps", 0)
        bag = parameter(self, "bag", "")
        bag_topics = parameter(self, "bag_topics", default_bag_topics(parameter(self, "controller", "arm_controller")))
        env = gymnasium.make(self.domain.env_id)  # its spaces are the ones the dataset states
        self.observation_space, self.action_space = env.observation_space, env.action_space
        env.close()
        self.dataset_episodes = self._episodes_already_there()
        self.layout = step_layout(self.domain.state_dim, self.domain.action_dim)

        self.saved, self.last_event = 0, ""
        self.sim_episode = 0
        self.observations: list[np.ndarray] = []
        self.actions: list[np.ndarray] = []
        self.status_pub = self.create_publisher(String, "~/status", LATCHED)
        self.step_sub = self.create_subscription(Float64MultiArray, STEP_TOPIC, self._on_step, QUEUE_DEPTH)
        self.reset_client = self.create_client(Trigger, reset_service)
        self.start_timeout = self.create_timer(self.start_timeout_s, self._on_start_timeout, autostart=False)
        self.create_service(Trigger, "~/start", self._on_start)
        self.create_service(Trigger, "~/stop", self._on_stop)
        self.create_service(Trigger, "~/discard", self._on_discard)
        self.bag = None if bag in NO_BAG else self._open_bag(Path(bag), bag_topics)  # last: nothing after it may fail
        self._publish_status()
        bagging = "no bag" if self.bag is None else f"bag {bag}"
        self.get_logger().info(
            f"recording {self.domain.name} demonstrations into {self.dataset} "
            f"({self.dataset_episodes} episodes there already); {bagging}; call ~/start, then "
            "~/stop to save or ~/discard"
        )

    # --- start-up ---------------------------------------------------------------------------------------------
    def _episodes_already_there(self) -> int:
        """The episodes the dataset holds already (0 for a new one); refuses a bad name or a dataset of other spaces."""
        if not self.dataset.name:
            raise StartupError(
                "parameter dataset is required: a directory whose name ends in -vN, e.g. "
                "dataset:=datasets/kitchen-teleop-v0"
            )
        if not DATASET_ID_RE.match(self.dataset.name):
            raise StartupError(
                f"dataset {self.dataset}: the name must end in a version, -vN (Minari ids), e.g. {self.dataset.name}-v0"
            )
        if not (self.dataset / "data").exists():
            return 0
        existing = load_dataset(self.dataset)  # a broken dataset stops the node with the DatasetError's reason
        if (existing.observation_space, existing.action_space) != (self.observation_space, self.action_space):
            raise StartupError(
                f"dataset {self.dataset} holds observations {existing.observation_space} and actions "
                f"{existing.action_space}, not the {self.domain.name} domain's {self.observation_space} "
                f"and {self.action_space}: record into a new dataset"
            )
        return existing.num_episodes

    def _open_bag(self, path: Path, entries: list[str]) -> Writer:
        if path.exists():  # rosbags would refuse too; say what to do
            raise StartupError(f"bag {path} exists already: bags are never overwritten, pick a new directory")
        typestore = get_typestore(Stores.ROS2_KILTED)
        topics = [bag_topic(entry, typestore) for entry in entries]
        bag = Writer(path, version=Writer.VERSION_LATEST, storage_plugin=StoragePlugin.MCAP)
        bag.open()
        for topic, type_name, message_class in topics:
            # the bag names the topic as resolved (namespace, remapping), like ros2 bag record
            connection = bag.add_connection(self.resolve_topic_name(topic), type_name, typestore=typestore)
            self.create_subscription(
                message_class, topic, lambda data, to=connection: self._write_bagged(to, data), QUEUE_DEPTH, raw=True
            )  # raw: the CDR bytes go to the bag as they came
        return bag

    def _write_bagged(self, connection: Connection, data: bytes) -> None:
        self.bag.write(connection, self.get_clock().now().nanoseconds, data)

    # --- services ---------------------------------------------------------------------------------------------
    def _on_start(self, _request, response):
        if self.state != IDLE:
            return answer(response, False, f"already {self.state} an episode: stop or discard it first")
        missing = self._sim_missing()
        if missing:
            return answer(response, False, f"{missing} (is the sim running?)")
        # no waiting for the answer: a lost one would hang ~/start, and the step 0 that follows says enough
        self.reset_client.call_async(Trigger.Request()).add_done_callback(self._on_reset_answer)
        self.start_timeout.reset()
        self._set_state(STARTING)
        return answer(
            response,
            True,
            f"starting episode {self.dataset_episodes}: the sim is resetting, recording "
            "begins with its step 0 (see ~/status)",
        )

    def _sim_missing(self) -> str | None:
        """Why the sim cannot be recorded yet: a step 0 sent before the sim is discovered would be lost."""
        if not self.reset_client.service_is_ready():
            return f"the sim's reset service {self.reset_client.srv_name} is not available"
        if not self.step_sub.get_publisher_count():
            return f"no publisher of {self.step_sub.topic_name} yet"
        return None

    def _on_reset_answer(self, future) -> None:
        reset = future.result()
        if not reset.success and self.state == STARTING:
            self._abandon_start(f"the sim refused to reset: {reset.message}")

    def _on_start_timeout(self) -> None:
        self.start_timeout.cancel()  # one shot
        if self.state == STARTING:
            self._abandon_start(f"no step 0 from the sim within {self.start_timeout_s:g} s")

    def _abandon_start(self, reason: str) -> None:
        self._end(f"not started: {reason}")
        self.get_logger().warning(self.last_event)

    def _on_stop(self, _request, response):
        if self.state == IDLE:
            return answer(
                response,
                False,
                "not recording: call ~/start first" + (f" (last: {self.last_event})" if self.last_event else ""),
            )
        if self.state == STARTING:
            return answer(response, False, "the sim has not started the episode yet: try again in a moment")
        return answer(response, *self._save("stopped"))

    def _on_discard(self, _request, response):
        if self.state == IDLE:
            return answer(response, False, "nothing to discard: not recording")
        steps = len(self.actions)
        self._end(f"discarded {steps} steps of sim episode {self.sim_episode}")
        self.get_logger().info(self.last_event)
        return answer(response, True, self.last_event)

    # --- steps ------------------------------------------------------------------------------------------------
    def _on_step(self, message: Float64MultiArray) -> None:
        if self.state == IDLE:
            return
        try:
            step = read_step(self.layout, message)
        except MessageError as err:
            if self.state == RECORDING:
                self._drop(f"a malformed step message ({err})")
            return
        if self.state == STARTING:
            if step.step != 0:
                return  # the episode before the reset, still in flight
            self.start_timeout.cancel()
            self.sim_episode = step.episode
            self.state = RECORDING
        problem = self._continuity_problem(step)
        if problem:
            self._drop(problem)
            return
        self.observations.append(step.observation)
        if step.step > 0:
            self.actions.append(step.action)  # the action applied between the previous observation and this one
        if step.ended:
            self._save("its sim episode ended")
        elif self.max_steps and len(self.actions) >= self.max_steps:
            self._save(f"max_episode_steps ({self.max_steps}) reached")
        else:
            self._publish_status()

    def _continuity_problem(self, step: Step) -> str | None:
        if step.episode != self.sim_episode:
            return f"a step of sim episode {step.episode} came (someone else reset the sim?)"
        if step.step != len(self.observations):
            return f"step {step.step} came when step {len(self.observations)} was due (lost or repeated messages)"
        return None

    def _save(self, why: str) -> tuple[bool, str]:
        """Append the episode to the dataset; (saved, what happened)."""
        if not self.actions:
            self._end(f"not saved: sim episode {self.sim_episode} has no action yet, only its reset observation")
            return False, self.last_event
        episode = Episode(np.stack(self.observations), np.stack(self.actions))
        index = self.dataset_episodes
        try:
            self._append(episode)
        except (DatasetError, OSError) as err:
            self._end(f"not saved: writing {self.dataset} failed: {err}")
            self.get_logger().error(self.last_event)
            return False, self.last_event
        self.saved += 1
        self._end(f"saved episode {index}: {episode.length} steps (sim episode {self.sim_episode}; {why})")
        self.get_logger().info(f"{self.last_event} to {self.dataset}")
        return True, self.last_event

    def _append(self, episode: Episode) -> None:
        if self.dataset_episodes:
            append_episodes(self.dataset, [episode])
        else:
            write_dataset(
                self.dataset,
                [episode],
                self.observation_space,
                self.action_space,
                description=f"Teleoperated demonstrations in the {self.domain.name} domain, recorded "
                "episode by episode by simpl_ros's demo_recorder node; rewards are zeros, no "
                "task labels.",
                algorithm_name=ALGORITHM_NAME,
                extra_metadata={"env_spec": gymnasium.spec(self.domain.env_id).to_json()},
            )
        self.dataset_episodes += 1

    def _drop(self, reason: str) -> None:
        self._end(
            f"dropped sim episode {self.sim_episode} after {len(self.actions)} steps: {reason}; "
            "record it again with ~/start"
        )
        self.get_logger().warning(self.last_event)

    def _end(self, event: str) -> None:
        self.start_timeout.cancel()
        self.observations, self.actions = [], []
        self.last_event = event
        self._set_state(IDLE)

    def _set_state(self, state: str) -> None:
        self.state = state
        self._publish_status()

    def _publish_status(self) -> None:
        status = {
            "state": self.state,
            "episode": self.dataset_episodes,
            "sim_episode": self.sim_episode,
            "steps": len(self.actions),
            "saved": self.saved,
            "last_event": self.last_event,
        }
        self.status_pub.publish(String(data=json.dumps(status)))

    def destroy_node(self) -> None:
        if self.state == RECORDING:
            self.get_logger().warning(
                f"shutting down: the {len(self.actions)} steps of sim episode "
                f"{self.sim_episode} being recorded are not saved"
            )
        if self.bag is not None:
            self.bag.close()  # writes the MCAP summary and metadata.yaml: without them the bag does not open
            self.bag = None
        super().destroy_node()


def main(args=None) -> None:
    sys.exit(run(DemoRecorderNode, args))


if __name__ == "__main__":
    main()
