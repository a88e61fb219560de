"""The kitchen arm on hardware: the safety layer below the policy as plain functions, the Robot seam on the MuJoCo
kitchen, the hardware bridge against the fake ros2_control arm (real processes over DDS, see conftest), and the
launch file and `simpl-ros launch kitchen_hw` agreeing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import types

import numpy as np
import pytest
import yaml
from rclpy.duration import Duration
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from test_ros_graph import both_ways, collect, fake_launch_modules, graph_stack, launch_file_graph, run_to_end, wait_for
from trajectory_msgs.msg import JointTrajectory

from simpl_core.paths import resource
from simpl_core.robots.kitchen_sim import KitchenSimRobot
from simpl_core.robots.reset import StartState, kitchen_at_rest
from simpl_core.robots.safety import Freshness, JointLimits, command_problem, safe_velocity
from simpl_ros.common.messages import STEP_TOPIC, read_step, step_layout
from simpl_ros.executables import NODES
from simpl_ros.hardware.ros2_control_arm import KITCHEN_JOINT_NAMES, objects_message
from simpl_ros.tools.launcher import LaunchError, load_graph, parse_arguments

POLICY = "policy/commands"
VELOCITIES = "forward_velocity_controller/commands"
TRAJECTORIES = "joint_trajectory_controller/joint_trajectory"
PARAMS = yaml.safe_load(resource("config", "kitchen_hw.params.yaml").read_text())
BRIDGE = PARAMS["hw_bridge"]["ros__parameters"]
LIMITS = JointLimits(BRIDGE["position_lower"], BRIDGE["position_upper"], BRIDGE["velocity_limits"])
RESET_POSE = np.array([0.1484, -1.7685, 1.8439, -2.4769, 0.2603, 0.7125, 1.5952, 0.0479, 0.0371])  # the env's reset
PERIOD = 0.08  # s, the kitchen's control period
LAYOUT = step_layout(59, 9)
RTF = 4.0


def action(**joints) -> list[float]:
    """A 9-D policy action, zero but for the joints named j1..j9."""
    values = np.zeros(9)
    for name, value in joints.items():
        values[int(name[1:]) - 1] = value
    return values.tolist()


def alive_and(stack, lines: list[str], condition):
    """condition, for wait_for, that fails at once (with the log) when a node of the stack has exited."""

    def check():
        dead = [name for name, process in stack.processes.items() if process.poll() is not None]
        assert not dead, f"{dead} exited:\n{''.join(lines[-30:])}"
        return condition()

    return check


def drive(publisher, command: list[float], seconds: float, until=lambda: False) -> None:
    """Publish one policy command per control period (wall clock at RTF) for `seconds`, or until `until()`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until():
        publisher.publish(Float64MultiArray(data=command))
        time.sleep(PERIOD / RTF)


# --- the safety layer and the Robot seam, no ROS -----------------------------------------------------------------
def test_safe_velocity_scales_like_the_sim_and_clamps_to_the_limits():
    def velocity(act, position=RESET_POSE):
        return safe_velocity(np.array(act), position, LIMITS, 2.0, PERIOD)

    assert np.allclose(velocity(action(j1=0.5, j3=-0.25)), action(j1=1.0, j3=-0.5))  # rad/s = 2 x action
    assert np.allclose(velocity(action(j1=5.0)), action(j1=2.0))  # actions clip to [-1, 1]
    assert np.allclose(velocity(action(j8=-1.0)), action(j8=-0.1))  # the fingers' 0.1 m/s
    limited = JointLimits(LIMITS.lower, LIMITS.upper, np.full(9, 1.5))
    assert safe_velocity(np.array(action(j5=1.0)), RESET_POSE, limited, 2.0, PERIOD)[4] == 1.5


def test_safe_velocity_never_carries_a_joint_past_a_position_limit():
    near = RESET_POSE.copy()
    near[3] = -0.42  # joint 4, 0.02 rad below its -0.4 limit
    assert np.isclose(
        safe_velocity(np.array(action(j4=1.0)), near, LIMITS, 2.0, PERIOD)[3], 0.02 / 2 / PERIOD
    )  # halfway
    assert RESET_POSE[1] < LIMITS.lower[1]  # the kitchen resets joint 2 past its limit:
    assert safe_velocity(np.array(action(j2=-1.0)), RESET_POSE, LIMITS, 2.0, PERIOD)[1] == 0.0  # no further
    assert safe_velocity(np.array(action(j2=1.0)), RESET_POSE, LIMITS, 2.0, PERIOD)[1] == 2.0  # back is fine
    assert safe_velocity(np.array(action(j8=1.0)), RESET_POSE, LIMITS, 2.0, PERIOD)[7] == 0.0  # fingers 0.048 > 0.04


def test_bad_commands_limits_and_freshness():
    assert command_problem(np.zeros(9), 9) is None
    assert command_problem(np.zeros(5), 9) == "expected 9 joint velocities, got 5 values"
    assert command_problem(np.array(action(j3=np.nan)), 9) == "NaN or inf in the command"
    with pytest.raises(ValueError, match="one value per joint"):
        JointLimits(np.zeros(9), np.ones(8), np.ones(9))
    with pytest.raises(ValueError, match="lower < upper"):
        JointLimits(np.ones(9), np.zeros(9), np.ones(9))
    fresh = Freshness(0.5)
    assert not fresh.heard and fresh.stale(10.0)
    fresh.mark(10.0)
    assert fresh.heard and not fresh.stale(10.4) and fresh.stale(10.6)


def test_the_sim_robot_behind_the_seam_moves_as_commanded():
    robot = KitchenSimRobot(seed=0)
    robot.connect()
    try:
        start = robot.get_observation()
        assert start.shape == (robot.observation_dim,) == (59,) and np.allclose(start[:7], RESET_POSE[:7], atol=2e-3)
        applied = robot.send_action(np.array(action(j1=3.0)))
        assert applied.tolist() == action(j1=1.0)
        assert robot.get_observation()[0] > start[0] + 0.05  # j1 turned (about half of 2 rad/s x 0.08 s)
    finally:
        robot.disconnect()
    assert not robot.ready


def test_the_start_state_is_the_sims_inside_the_arms_limits():
    start = StartState.kitchen(LIMITS)
    rest = kitchen_at_rest()
    assert (start.home >= LIMITS.lower).all() and (start.home <= LIMITS.upper).all()
    assert np.allclose(start.home[[0, 2, 3, 4, 5, 6, 8]], RESET_POSE[[0, 2, 3, 4, 5, 6, 8]], atol=2e-3)
    assert start.home[1] > LIMITS.lower[1] and start.home[7] < LIMITS.upper[7]  # joint 2, finger 1 moved inside
    assert start.arm_error(rest) < start.home_tolerance and start.misplaced_objects(rest) == []
    moved = rest.copy()
    moved[31], moved[34] = -0.7, 1.2  # microwave open, kettle lifted off
    assert start.misplaced_objects(moved) == ["microwave_pos", "kettle_z"]
    away = rest.copy()
    away[0] += 1.0  # joint 1 a radian off home
    homing = start.homing_action(away, 2.0, 0.25)
    assert homing[0] == -0.25 and np.abs(homing[1:]).max() < 0.25  # at most home_speed, toward home
    assert abs(start.homing_action(rest, 2.0, 0.25)[0]) < 1e-3  # slows to nothing at home


# --- the bridge against the fake arm, velocity interface ---------------------------------------------------------
@pytest.fixture(scope="class")
def arm(probe):
    """fake_arm + hw_bridge (velocity interface, one episode started at once) and the probe's view of them."""
    # one long episode: between episodes the arm is held, so a test driving it across an episode's end would see zero
    stack, lines = graph_stack(
        ["driver:=mock", "command_interface:=velocity", "auto_reset:=true", "horizon:=100000", f"rtf:={RTF:g}"],
        only=("fake_arm", "hw_bridge"),
        start=False,
        graph_name="kitchen_hw",
    )
    next(c for c in stack.commands if c.name == "hw_bridge").argv.extend(["-p", "hw_bridge:wait_for_nodes:=''"])
    stack.start()
    view = types.SimpleNamespace(
        lines=lines,
        policy=probe.create_publisher(Float64MultiArray, POLICY, 10),
        joints=collect(probe, "joint_states", JointState),
        steps=collect(probe, STEP_TOPIC),
        commands=collect(probe, VELOCITIES),
    )
    try:
        started = alive_and(
            stack, lines, lambda: len(view.steps) > 2 and view.joints and view.policy.get_subscription_count()
        )
        wait_for(started, 60, "the bridge's steps", lines)
        yield view
    finally:
        stack.stop()
    assert all(p.returncode == 0 for p in stack.processes.values()), "".join(lines[-40:])  # Ctrl-C: clean exits


class TestBridgeWithTheFakeArm:
    """One fake_arm + hw_bridge graph for these tests, stopped after them."""

    def test_policy_commands_move_the_fake_arm_and_steps_carry_the_59d_observation(self, arm):
        start = arm.joints[-1].position[0]
        drive(arm.policy, action(j1=0.5), 0.4)
        moved = arm.joints[-1]
        assert list(moved.name) == list(KITCHEN_JOINT_NAMES)
        assert np.isclose(moved.velocity[0], 1.0) and moved.position[0] > start + 0.5, (moved, arm.lines[-20:])
        step = read_step(LAYOUT, arm.steps[-1])
        assert step.episode >= 1 and step.reward == 0.0 and np.isclose(step.action[0], 0.5)
        gap = min(np.abs(step.observation[:9] - j.position).max() for j in arm.joints[-50:])
        assert gap < 0.05, gap  # positions the arm reported (the probe's newest may be newer than the step's)
        assert np.isclose(step.observation[9], 1.0)  # joint 1's velocity
        assert np.isclose(step.observation[34], 1.619, atol=0.01)  # kettle z: the perception topic's objects
        drive(arm.policy, action(j1=-0.5), 0.4)  # and back

    def test_limits_stop_joints_at_their_position_limits_and_clamp_velocities(self, arm):
        count, seen = len(arm.commands), len(arm.joints)
        j2_start = arm.joints[-1].position[1]
        limited = ((3, LIMITS.upper[3], 1), (4, LIMITS.upper[4], 1), (7, LIMITS.lower[7], -1))

        # at a limit: less than 5 mm short of it, or less than 1 cm past it when a command came more than a control
        # period late on a loaded machine (the safety layer then holds the joint there: past a limit it may only
        # move back)
        def at_limit(position, limit, side):
            return -0.005 < side * (position - limit) < 0.01

        def at_limits():
            return all(at_limit(arm.joints[-1].position[j], limit, side) for j, limit, side in limited)

        push = action(j2=-1.0, j4=1.0, j5=5.0, j8=-1.0)
        drive(arm.policy, push, 1.0)  # 4 s of the arm's time, then more if a loaded machine lagged
        drive(arm.policy, push, 3.0, until=at_limits)
        sent = np.array([c.data for c in arm.commands[count:]])
        positions = np.array([j.position for j in arm.joints[seen:]])
        assert sent[:, 4].max() == 2.0 and sent[:, 7].min() == -0.1  # 5.0 -> 2 rad/s; the fingers' 0.1 m/s
        assert (sent[:, 1] == 0.0).all() and positions[:, 1].min() >= j2_start - 1e-9  # joint 2 starts past its limit
        for joint, limit, side in limited:
            assert at_limit(positions[-1, joint], limit, side), (joint, positions[-1, joint])  # at rest at the limit
            assert (side * (positions[:, joint] - limit)).max() < 0.01, joint  # never much past it
        drive(arm.policy, action(j4=-0.5, j5=-0.5, j8=0.5), 0.3)  # back into the range

    def test_nan_and_wrong_length_commands_hold_the_arm_with_a_warning(self, arm):
        for bad, reason in (
            (action(j1=np.nan), "arm held: NaN or inf in the command"),
            ([0.1] * 5, "arm held: expected 9 joint velocities, got 5 values"),
        ):
            drive(arm.policy, action(j3=-0.3), 0.2)
            assert arm.joints[-1].velocity[2] != 0.0
            drive(arm.policy, bad, 0.2)
            assert not any(arm.commands[-1].data) and not any(arm.joints[-1].velocity), arm.lines[-20:]
            wait_for(lambda: reason in "".join(arm.lines), 5, reason, arm.lines)

    def test_watchdog_holds_the_arm_when_the_policy_goes_quiet(self, arm):
        drive(arm.policy, action(j3=0.3), 0.2)
        assert arm.joints[-1].velocity[2] != 0.0
        time.sleep(0.3)  # 15 control periods of silence
        assert not any(arm.commands[-1].data) and not any(arm.joints[-1].velocity)
        assert "no policy command on /policy/commands for more than 40 ms: arm held" in "".join(arm.lines)


# --- the bridge alone, position interface -------------------------------------------------------------------------
def test_bridge_commands_nothing_without_joint_states_then_sends_trajectory_points(probe):
    """A bridge of its own (the fake arm's graph is down by now); the probe plays its arm."""
    stack, lines = graph_stack(
        ["command_interface:=position", "auto_reset:=true", f"rtf:={RTF:g}"],
        only=("hw_bridge",),
        start=False,
        graph_name="kitchen_hw",
    )
    stack.commands[0].argv.extend(["-p", "hw_bridge:wait_for_nodes:=''"])
    stack.start()
    policy = probe.create_publisher(Float64MultiArray, POLICY, 10)
    joint_pub = probe.create_publisher(JointState, "joint_states", 10)
    velocities, steps = collect(probe, VELOCITIES), collect(probe, STEP_TOPIC)
    state = JointState(name=list(KITCHEN_JOINT_NAMES), position=RESET_POSE.tolist(), velocity=[0.0] * 9)
    rest = kitchen_at_rest()
    objects_pub = probe.create_publisher(Float64MultiArray, "kitchen/objects", 10)
    objects = objects_message(rest)
    try:
        wait_for(alive_and(stack, lines, policy.get_subscription_count), 60, "the bridge", lines)
        drive(policy, action(j1=0.5), 1.0)
        assert not velocities and not steps  # no arm heard: nothing to it, no episode
        assert "waiting to start an episode: no fresh /joint_states from the arm" in "".join(lines)

        arm_timer = probe.create_timer(0.01, lambda: joint_pub.publish(state))  # the probe plays the arm ...
        wait_for(lambda: f"no controller subscribed to /{TRAJECTORIES}" in "".join(lines), 10, "no controller", lines)
        assert not steps  # ... whose controller is not up yet
        trajectories = collect(probe, TRAJECTORIES, JointTrajectory)
        wait_for(lambda: "no fresh object state on /kitchen/objects" in "".join(lines), 10, "no perception", lines)
        assert not steps  # no objects heard: no episode either
        perception = probe.create_timer(0.05, lambda: objects_pub.publish(objects))
        wait_for(lambda: steps, 10, "an episode", lines)
        drive(policy, action(j1=0.5, j2=-1.0), 0.3)
        last = trajectories[-1]
        assert list(last.joint_names) == list(KITCHEN_JOINT_NAMES) and len(last.points) == 1
        assert Duration.from_msg(last.points[0].time_from_start).nanoseconds == 80_000_000  # one control period
        expected = RESET_POSE.copy()
        expected[0] += 1.0 * PERIOD  # 0.5 -> 1 rad/s for 0.08 s; joint 2 held
        assert np.allclose(last.points[0].positions, expected), last.points[0].positions
        assert not velocities

        probe.destroy_timer(arm_timer)  # the arm goes quiet: hold the last point
        probe.destroy_timer(perception)
        drive(policy, action(j1=0.5), 0.5)
        assert np.allclose(trajectories[-1].points[0].positions, expected)
        assert "arm held: /joint_states older than 0.2 s" in "".join(lines)
    finally:
        stack.stop()


def test_bridge_without_its_limits_says_which_parameter_is_missing():
    out = subprocess.run([sys.executable, "-m", NODES["hw_bridge"]], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "parameter position_lower is required" in out.stderr, out.stderr[-2000:]


# --- on-arm adaptation through the bridge, the mock driver ------------------------------------------------------
def test_adaptation_through_the_bridge_homes_the_arm_before_every_episode(tmp_path):
    # at half the other tests' rtf: the policy's deadlines (a skill within its 10 steps) stay met under CI load
    stack, lines = graph_stack(
        [
            "driver:=mock",
            "adapt:=true",
            f"adapt_dir:={tmp_path}",
            f"rtf:={RTF / 2:g}",
            "horizon:=40",
            "exploration_episodes:=2",
            "finetune_episodes:=1",
            "eval_episodes:=1",
        ],
        graph_name="kitchen_hw",
    )
    text = run_to_end(stack, lines)
    assert "completed subtasks before" in text, text[-3000:]
    entries = [json.loads(line) for line in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    assert [e["phase"] for e in entries] == ["explore", "explore", "finetune", "evaluate"]
    # every episode ran its 40 steps and recorded skills (under CI load a skill may come late and be dropped)
    assert all(e["steps"] == 40 and e["transitions"] >= 1 for e in entries), [
        (e["transitions"], e["missed_commands"]) for e in entries
    ]
    home = StartState.kitchen(LIMITS)
    starts = [np.load(tmp_path / e["rows"])[0, :59] for e in entries]  # each episode's first state
    moved = [home.arm_error(np.load(tmp_path / e["rows"])[-1, -59:]) for e in entries]  # and its last
    missed = [e["missed_commands"] for e in entries]
    assert max(moved) > 0.1, (moved, missed, text[-3000:])  # the policy moved the arm away ...
    assert all(home.arm_error(start) <= home.home_tolerance for start in starts), [home.arm_error(s) for s in starts]
    assert "hw_bridge not ready: moving the arm to its start pose" in text  # ... and it drove home before the next


# --- the launch file and the runner -------------------------------------------------------------------------------
def test_kitchen_hw_launch_file_and_runner_agree(monkeypatch):
    fake_launch_modules(monkeypatch)
    actions, graph = launch_file_graph("kitchen_hw"), load_graph("kitchen_hw")
    declared = {a.args[0]: a.kwargs["default_value"] for a in actions if type(a).__name__ == "DeclareLaunchArgument"}
    assert declared == {name: str(spec["default"]) for name, spec in graph.arguments.items()}
    launched, run = both_ways(actions, graph, [])
    assert launched == run and set(run) == {"hw_bridge", "skill_decoder", "skill_selector", "task_encoder"}
    assert run["hw_bridge"][2]["command_interface"] == "position"  # a dead bridge leaves a stopping arm
    launched, run = both_ways(actions, graph, ["driver:=mock", "command_interface:=velocity", "rtf:=4"])
    assert launched == run and run["fake_arm"][2]["rtf"] == "4"
    assert run["hw_bridge"][2]["command_interface"] == "velocity"
    assert PARAMS["skill_decoder"]["ros__parameters"]["controller"] == BRIDGE["policy_controller"]  # decoder -> bridge
    assert next(a for a in actions if a.args[0] == "driver").kwargs["choices"] == ["ros2_control", "mock"]
    with pytest.raises(LaunchError, match="driver is one of ros2_control, mock"):
        parse_arguments(graph, ["driver:=gazebo"])
