"""Teleoperation over ROS 2 as a lab runs it: the record_demos graph (kitchen sim, servo, recorder, scripted
operator) records a demonstration that completes a subtask, into a dataset minari loads and an MCAP bag rosbags
reads; the keyboard teleop turns key presses in a terminal into twists. Real processes over DDS (see conftest)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import minari
from geometry_msgs.msg import TwistStamped
from rosbags.highlevel import AnyReader
from std_msgs.msg import Float64
from test_ros_graph import collect, graph_stack, run_to_end, wait_for

from simpl_core.data.inspect import subtask_order
from simpl_core.data.minari_io import load_dataset
from simpl_ros.executables import NODES

TWISTS = "/servo_node/delta_twist_cmds"


def test_record_demos_graph_records_a_scripted_demonstration_that_completes_a_subtask(tmp_path):
    dataset, bag = tmp_path / "kitchen-demo-v0", tmp_path / "bag"
    stack, lines = graph_stack(
        ["episodes:=1", "rtf:=4", f"dataset:={dataset}", f"bag:={bag}"], start=False, graph_name="record_demos"
    )
    operator = next(command for command in stack.commands if command.name == "scripted_teleop")
    operator.argv.extend(["-p", "subtasks:=light switch", "-p", "max_steps:=80"])
    stack.start()
    run_to_end(stack, lines)  # the operator's end is the graph's end
    recorded = load_dataset(dataset)
    assert recorded.num_episodes == 1 and recorded.observation_dim == 59 and recorded.action_dim == 9
    assert "light switch" in subtask_order(recorded.episodes[0].observations), "".join(lines[-30:])
    os.environ["MINARI_DATASETS_PATH"] = str(tmp_path)
    assert minari.load_dataset("kitchen-demo-v0").total_episodes == 1

    with AnyReader([bag]) as reader:
        topics = {connection.topic: connection for connection in reader.connections}
        assert {"/simpl/step", TWISTS, "/arm_controller/commands", "/joint_states"} <= set(topics)
        twists = [
            reader.deserialize(raw, connection.msgtype)
            for connection, _, raw in reader.messages(connections=[topics[TWISTS]])
        ]
    assert len(twists) > 20 and max(abs(t.twist.linear.x) for t in twists) > 0.05  # it pushed the switch sideways


def keyboard_teleop(stdin) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", NODES["keyboard_teleop"]],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_keyboard_teleop_turns_key_presses_into_twists_and_gripper_commands(probe):
    twists, grippers = collect(probe, TWISTS, TwistStamped), collect(probe, "/servo_node/gripper_cmd", Float64)
    terminal, keyboard = pty.openpty()
    process = keyboard_teleop(keyboard)
    try:
        wait_for(lambda: twists and grippers, 20, "the keyboard teleop")
        assert twists[-1].twist.linear.z == 0 and grippers[-1].data == 1.0  # at rest, gripper open
        os.write(terminal, b"r")  # up
        wait_for(lambda: twists[-1].twist.linear.z > 0, 5, "an upward twist")
        assert twists[-1].header.frame_id == "world"
        wait_for(lambda: twists[-1].twist.linear.z == 0, 5, "the twist to stop once the key is released")
        os.write(terminal, b" ")  # close the gripper
        wait_for(lambda: grippers[-1].data == -1.0, 5, "a gripper close command")
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
        os.close(terminal)
        os.close(keyboard)
    assert "gripper closed" in output and "w/s forward/back" in output


def test_keyboard_teleop_without_a_terminal_says_why():
    process = keyboard_teleop(subprocess.DEVNULL)
    output = process.communicate(timeout=30)[0]
    assert process.returncode == 2 and "terminal" in output
