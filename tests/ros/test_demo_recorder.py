"""The demonstration recorder as a lab uses it: real kitchen sim and recorder processes over DDS (see conftest), a
teleop stand-in publishing joint velocities; episodes saved, discarded, saved by themselves and continued by a
second session, the raw topics in an MCAP bag, and clear refusals of bad start-ups."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import Trigger
from test_ros_graph import collect, wait_for

from simpl_core.data.minari_io import Episode, load_dataset, write_dataset
from simpl_core.envs.kitchen.env import action_space, observation_space
from simpl_ros.common.messages import STEP_TOPIC, read_step, step_layout
from simpl_ros.executables import NODES
from simpl_ros.teleop.demo_recorder_node import ALGORITHM_NAME
from simpl_ros.tools.launcher import NodeCommand, Stack

COMMANDS = "arm_controller/commands"
HORIZON = 120  # sim steps per episode: 1.9 s at rtf 5
LAYOUT = step_layout(59, 9)
# one joint-velocity command per episode, inside the action bounds: each saved action says where it came from
HOLD = {
    name: np.linspace(-0.5, 0.5, 9) * sign + offset
    for name, sign, offset in (
        ("first", 1, 0.0),
        ("discarded", -1, 0.0),
        ("second", 1, 0.2),
        ("by_itself", -1, 0.3),
        ("resumed", 1, -0.3),
    )
}


def node(name: str, executable: str, *params: str) -> NodeCommand:
    argv = [sys.executable, "-m", NODES[executable], "--ros-args", "-r", f"__node:={name}"]
    for param in params:
        argv += ["-p", param]
    return NodeCommand(name, argv, respawn=False, shutdown_on_exit=False)


def launch(*commands: NodeCommand) -> tuple[Stack, list[str]]:
    lines: list[str] = []
    out = types.SimpleNamespace(write=lines.append, flush=lambda: None)
    return Stack(list(commands), env={**os.environ, "PYTHONUNBUFFERED": "1"}, out=out).start(), lines


def recorder_node(dataset: Path, *params: str, name: str = "demo_recorder") -> NodeCommand:
    return node(name, "demo_recorder", f"dataset:={dataset}", *params)


class Teleop:
    """A keyboard teleop stand-in: holds one joint-velocity command, published at 200 Hz (the sim steps at 62.5), or
    none (hold(None): the operator let go of the keys)."""

    def __init__(self, probe_node):
        self.publisher = probe_node.create_publisher(Float64MultiArray, COMMANDS, 10)
        self.command: np.ndarray | None = np.zeros(9)
        self.running = True
        self.thread = threading.Thread(target=self._publish, daemon=True)
        self.thread.start()

    def hold(self, command: np.ndarray | None) -> None:
        self.command = command
        time.sleep(0.1)  # the last command's messages in flight arrive before the next reset

    def _publish(self) -> None:
        while self.running:
            command = self.command
            if command is not None:
                self.publisher.publish(Float64MultiArray(data=command.tolist()))
            time.sleep(0.005)

    def stop(self) -> None:
        self.running = False
        self.thread.join()


class Recorder:
    """The recorder's services and ~/status, as a teleop UI uses them."""

    def __init__(self, probe_node):
        self.clients = {
            name: probe_node.create_client(Trigger, f"/demo_recorder/{name}") for name in ("start", "stop", "discard")
        }
        self.statuses = collect(probe_node, "/demo_recorder/status", String, qos=100)

    def status(self) -> dict:
        return json.loads(self.statuses[-1].data) if self.statuses else {}

    def ready(self) -> bool:
        return all(client.service_is_ready() for client in self.clients.values())

    def call(self, name: str) -> Trigger.Response:
        future = self.clients[name].call_async(Trigger.Request())
        wait_for(future.done, 10, f"the answer of ~/{name}")
        return future.result()

    def start_episode(self) -> int:
        """~/start (again while the recorder has not yet discovered the sim); the sim episode it records."""
        deadline = time.monotonic() + 30
        response = self.call("start")
        while "is the sim running?" in response.message and time.monotonic() < deadline:
            time.sleep(0.2)
            response = self.call("start")
        assert response.success, response.message
        wait_for(lambda: self.status().get("state") == "recording", 10, f"the recording to begin; {self.status()}")
        return self.status()["sim_episode"]


def sim_steps(messages: list, episode: int) -> list:
    return [step for step in (read_step(LAYOUT, m) for m in list(messages)) if step.episode == episode]


def wait_for_step(messages: list, episode: int, step: int) -> None:
    wait_for(lambda: any(s.step >= step for s in sim_steps(messages, episode)), 20, f"step {step} of episode {episode}")


def saved_length(message: str, index: int) -> int:
    match = re.match(rf"saved episode {index}: (\d+) steps", message)
    assert match, message
    return int(match.group(1))


def assert_recorded(episode: Episode, steps: list, command: np.ndarray) -> None:
    """The episode is the sim's steps 0..T: their observations, and the actions applied to reach steps 1..T, which are
    the teleop's command (or zero: the sim holds zero after a reset until a command comes)."""
    sent = steps[: len(episode.observations)]
    assert [s.step for s in sent] == list(range(len(episode.observations)))
    np.testing.assert_array_equal(episode.observations, np.stack([s.observation for s in sent]))
    np.testing.assert_array_equal(episode.actions, np.stack([s.action for s in sent[1:]]))
    held = (episode.actions == command.astype(np.float32)).all(axis=1)
    assert (held | (episode.actions == 0).all(axis=1)).all() and held.mean() >= 0.7, episode.actions


def test_recorder_saves_discards_continues_and_bags(probe, tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))  # the dataset's minari id is its name
    dataset, bag = tmp_path / "kitchen-teleop-v0", tmp_path / "bag"
    messages = collect(probe, STEP_TOPIC, qos=1000)
    recorder, teleop = Recorder(probe), Teleop(probe)
    sim = node(
        "sim",
        "sim",
        "domain:=kitchen",
        "rtf:=5",
        "auto_reset:=false",
        f"horizon:={HORIZON}",
        "controller:=arm_controller",
    )
    stack, lines = launch(sim, recorder_node(dataset, f"bag:={bag}"))
    try:
        wait_for(
            lambda: (
                recorder.ready()
                and teleop.publisher.get_subscription_count() >= 2  # sim and bag
                and probe.count_publishers("/" + STEP_TOPIC)
            ),
            30,
            f"the sim and the recorder; log: {lines[-10:]}",
        )
        assert "not recording" in recorder.call("stop").message
        assert "nothing to discard" in recorder.call("discard").message

        teleop.hold(HOLD["first"])
        first = recorder.start_episode()
        wait_for_step(messages, first, 20)
        again = recorder.call("start")
        assert not again.success and "already recording" in again.message
        first_length = saved_length(recorder.call("stop").message, 0)

        teleop.hold(HOLD["discarded"])
        discarded = recorder.start_episode()
        wait_for_step(messages, discarded, 5)
        assert recorder.call("discard").success

        gap = probe.create_publisher(Float64MultiArray, STEP_TOPIC, 10)  # to the recorder and to ourselves
        wait_for(lambda: gap.get_subscription_count() >= 2, 10, "the recorder to hear the probe's step messages")
        dropped = recorder.start_episode()  # a step message out of order: the episode is dropped, not corrupted
        wait_for_step(messages, dropped, 3)
        out_of_order = LAYOUT.pack(
            episode=dropped,
            step=10_000,
            reward=0,
            terminated=0,
            truncated=0,
            action=np.zeros(9),
            observation=np.zeros(59),
        )

        def dropped_for_it() -> bool:  # sent again until heard: discovery is one-sided for a moment
            gap.publish(out_of_order)
            time.sleep(0.1)
            return "dropped" in recorder.status()["last_event"]

        wait_for(dropped_for_it, 10, "the episode to be dropped")
        probe.destroy_publisher(gap)  # the recorder waits for the sim's step publisher, not ours
        refused = recorder.call("stop")
        assert not refused.success and "step 10000 came when" in refused.message

        teleop.hold(HOLD["second"])
        second = recorder.start_episode()
        wait_for_step(messages, second, 10)
        second_length = saved_length(recorder.call("stop").message, 1)

        teleop.hold(HOLD["by_itself"])
        by_itself = recorder.start_episode()  # the sim's time limit ends it: saved without ~/stop
        wait_for(lambda: recorder.status()["saved"] == 3, 20, "the episode to save itself")
        assert recorder.status()["state"] == "idle"

        # quiet first: a busy node can meet rclpy's shutdown race (an RCLError, exit 1) that node_main.run lets through
        teleop.hold(None)
        stack.processes["demo_recorder"].send_signal(signal.SIGTERM)  # the bag must survive a SIGTERM
        assert stack.processes["demo_recorder"].wait(10) == 0, lines[-10:]
        # a second session continues the dataset, with episodes that save themselves after 15 actions
        resumed_stack, resumed_lines = launch(recorder_node(dataset, "max_episode_steps:=15", "bag:=none"))
        try:
            wait_for(recorder.ready, 30, "the second recorder")
            teleop.hold(HOLD["resumed"])
            resumed = recorder.start_episode()
            wait_for(lambda: recorder.status()["saved"] == 1, 10, "the second session's episode")
        finally:
            resumed_stack.stop()
    finally:
        teleop.stop()
        stack.stop()
    log = "".join(lines)
    assert f"saved episode 0: {first_length} steps" in log and "discarded" in log
    assert "(3 episodes there already); no bag" in "".join(resumed_lines)
    assert "saved episode 3: 15 steps (sim episode" in "".join(resumed_lines)

    recorded = load_dataset(dataset)
    assert [e.length for e in recorded.episodes[:2]] == [first_length, second_length]
    assert [e.length for e in recorded.episodes[2:]] == [HORIZON, 15]
    for episode, sim_episode, command in zip(
        recorded.episodes,
        (first, second, by_itself, resumed),
        (HOLD["first"], HOLD["second"], HOLD["by_itself"], HOLD["resumed"]),
    ):
        assert_recorded(episode, sim_steps(messages, sim_episode), command)
        assert not episode.rewards.any()
    discarded_command = HOLD["discarded"].astype(np.float32)
    assert not any((e.actions == discarded_command).all(axis=1).any() for e in recorded.episodes)
    assert recorded.metadata["algorithm_name"] == ALGORITHM_NAME
    assert json.loads(recorded.metadata["env_spec"])["id"] == "simpl/Kitchen-v0"
    minari = pytest.importorskip("minari")
    by_minari = minari.load_dataset("kitchen-teleop-v0")
    assert by_minari.total_episodes == 4 and by_minari.total_steps == recorded.num_transitions
    np.testing.assert_array_equal(next(by_minari.iterate_episodes()).actions, recorded.episodes[0].actions)

    with AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_KILTED)) as reader:
        topics = {c.topic: c for c in reader.connections}
        assert {"/simpl/step", "/joint_states", "/arm_controller/commands"} <= set(topics)
        bagged_steps = [reader.deserialize(raw, c.msgtype) for c, _, raw in reader.messages([topics["/simpl/step"]])]
        commands = {
            tuple(reader.deserialize(raw, c.msgtype).data)
            for c, _, raw in reader.messages([topics["/arm_controller/commands"]])
        }
    bagged = next(m for m in bagged_steps if m.layout.dim[0].label == LAYOUT.label and m.data[0] == first)
    sent = next(m for m in messages if list(m.data[:2]) == [first, bagged.data[1]])  # the same step, as published
    np.testing.assert_array_equal(bagged.data, sent.data)
    assert {tuple(HOLD[name]) for name in ("first", "discarded", "second", "by_itself")} <= commands


@pytest.fixture
def kitchen_dataset(tmp_path) -> Path:
    steps = 3
    episode = Episode(np.zeros((steps + 1, 59)), np.zeros((steps, 9)))
    return write_dataset(tmp_path / "kitchen-v0", [episode], observation_space(), action_space())


def test_recorder_refuses_bad_start_ups_with_one_line(tmp_path, kitchen_dataset):
    (tmp_path / "old_bag").mkdir()
    cases = {
        "bad_name": ((tmp_path / "teleop",), "the name must end in a version, -vN"),
        "other_spaces": ((kitchen_dataset, "domain:=maze"), "not the maze domain's"),
        "bag_exists": ((kitchen_dataset, f"bag:={tmp_path / 'old_bag'}"), "exists already"),
    }
    runs = {name: launch(recorder_node(*arguments, name=name)) for name, (arguments, _) in cases.items()}
    try:
        for name, (stack, lines) in runs.items():
            assert stack.processes[name].wait(30) == 2, lines
            time.sleep(0.1)  # the last lines through the forwarding thread
            reason = [line for line in lines if "cannot start" in line]
            assert len(reason) == 1 and cases[name][1] in reason[0] and "Traceback" not in "".join(lines), lines
    finally:
        for stack, _ in runs.values():
            stack.stop()
    assert not (tmp_path / "teleop").exists()
