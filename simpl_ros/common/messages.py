"""The graph's topics and the layouts of its std_msgs/Float64MultiArray messages.

Standard message types only (no custom .msg package): each message carries one labelled dimension whose label
spells the fields ("episode:1,step:1,reward:1,...,observation:4"), so `ros2 topic echo` documents itself and a
reader refuses a message laid out for another domain or version with a clear error instead of misreading it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from geometry_msgs.msg import TwistStamped
from rclpy.qos import DurabilityPolicy, QoSProfile
from std_msgs.msg import Float64MultiArray, MultiArrayDimension

# Topic names (relative: a launch namespace applies). Commands follow ros2_control: /<controller>/commands.
STEP_TOPIC = "simpl/step"  # sim -> everyone: episode, step, reward, flags, action applied, observation
EPISODE_TOPIC = "simpl/episode"  # sim -> std_msgs/String, JSON summary when an episode ends
SKILL_TOPIC = "simpl/skill"  # selector -> decoder, encoder: episode, step (chosen at), z
EMBEDDING_TOPIC = "simpl/task_embedding"  # encoder -> selector: mode (0 explore, 1 exploit), e
TRANSITIONS_TOPIC = "simpl/transitions"  # encoder -> adaptation: one episode's high-level transitions (rows x width)
JOINT_STATES_TOPIC = "joint_states"
TWIST_TOPIC = "/servo_node/delta_twist_cmds"  # teleop -> servo: end-effector twist (world frame), MoveIt Servo's name
GRIPPER_TOPIC = "/servo_node/gripper_cmd"  # teleop -> servo: std_msgs/Float64, +1 open, -1 close
PING_TOPIC, PONG_TOPIC = "simpl/bench/ping", "simpl/bench/pong"  # simpl-ros bench <-> latency_echo

EXPLORE, EXPLOIT = 0, 1
# State topics (e*, a recorder's status): a node that joins late still gets the last message.
LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
# Episode records (summaries, transitions): the last few are kept for a node whose subscription is matched only
# after the episode ended (discovery can lag seconds on a loaded CPU); sent once, they would be lost.
RECORDS = QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL)
# Steps and skills: queue depth at both ends. A reliable writer keeps only its last `depth` messages for a reader
# that has not acknowledged them yet, so a recorder that lags a few seconds on a loaded CPU would lose steps at 10.
STREAM_DEPTH = 1000


class MessageError(ValueError):
    """A message that does not fit the expected layout (wrong fields, length) or holds NaN/inf."""


@dataclass(frozen=True)
class Layout:
    """Named fields of fixed sizes packed into one Float64MultiArray."""

    fields: tuple[tuple[str, int], ...]

    @property
    def label(self) -> str:
        return ",".join(f"{name}:{size}" for name, size in self.fields)

    @property
    def size(self) -> int:
        return sum(size for _, size in self.fields)

    def pack(self, **values) -> Float64MultiArray:
        data = np.concatenate([np.asarray(values[name], np.float64).reshape(size) for name, size in self.fields])
        msg = Float64MultiArray()
        msg.layout.dim = [MultiArrayDimension(label=self.label, size=self.size, stride=self.size)]
        msg.data = data.tolist()
        return msg

    def unpack(self, msg: Float64MultiArray) -> dict[str, np.ndarray]:
        label = msg.layout.dim[0].label if msg.layout.dim else ""
        if label != self.label:
            raise MessageError(f"expected fields {self.label!r}, got {label or 'an unlabelled array'!r}")
        data = np.asarray(msg.data, np.float64)
        if data.shape != (self.size,):
            raise MessageError(f"expected {self.size} numbers ({self.label}), got {data.size}")
        if not np.isfinite(data).all():
            raise MessageError(f"NaN or inf in {self.label}")
        out, start = {}, 0
        for name, size in self.fields:
            out[name] = data[start : start + size]
            start += size
        return out


def step_layout(state_dim: int, action_dim: int) -> Layout:
    """One env step: the action the robot applied to get here (zeros at a reset) and the observation it led to."""
    return Layout(
        (
            ("episode", 1),
            ("step", 1),
            ("reward", 1),
            ("terminated", 1),
            ("truncated", 1),
            ("action", action_dim),
            ("observation", state_dim),
        )
    )


def skill_layout(latent_dim: int) -> Layout:
    return Layout((("episode", 1), ("step", 1), ("z", latent_dim)))


def embedding_layout(task_dim: int) -> Layout:
    return Layout((("mode", 1), ("e", task_dim)))


@dataclass(frozen=True)
class Step:
    episode: int
    step: int
    reward: float
    terminated: bool
    truncated: bool
    action: np.ndarray
    observation: np.ndarray

    @property
    def ended(self) -> bool:
        return self.terminated or self.truncated


def read_step(layout: Layout, msg: Float64MultiArray) -> Step:
    f = layout.unpack(msg)
    return Step(
        int(f["episode"][0]),
        int(f["step"][0]),
        float(f["reward"][0]),
        bool(f["terminated"][0]),
        bool(f["truncated"][0]),
        f["action"].astype(np.float32),
        f["observation"].astype(np.float32),
    )


def twist_message(stamp, linear, angular) -> TwistStamped:
    """A world-frame end-effector twist (linear m/s, angular rad/s) as the servo node takes it."""
    msg = TwistStamped()
    msg.header.stamp, msg.header.frame_id = stamp, "world"
    msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = map(float, linear)
    msg.twist.angular.x, msg.twist.angular.y, msg.twist.angular.z = map(float, angular)
    return msg


def read_step_or_warn(node, layout: Layout, msg: Float64MultiArray, consequence: str) -> Step | None:
    """The step in msg, or None after a throttled warning that says what was wrong and what the node does about it."""
    try:
        return read_step(layout, msg)
    except MessageError as err:
        node.get_logger().warning(f"bad step message, {consequence}: {err}", throttle_duration_sec=2.0)
        return None


def rows_message(rows: np.ndarray, episode: int) -> Float64MultiArray:
    """A 2-D block of high-level transitions of one episode (dims: episode-<n> rows, transition columns)."""
    msg = Float64MultiArray()
    count, width = rows.shape
    msg.layout.dim = [
        MultiArrayDimension(label=f"episode-{episode}", size=count, stride=count * width),
        MultiArrayDimension(label="transition", size=width, stride=width),
    ]
    msg.data = np.asarray(rows, np.float64).ravel().tolist()
    return msg


def read_rows(msg: Float64MultiArray, width: int) -> tuple[int, np.ndarray]:
    dims = msg.layout.dim
    if len(dims) != 2 or dims[1].size != width or not dims[0].label.startswith("episode-"):
        raise MessageError(f"expected an episode-<n> x {width} block of transitions")
    rows = np.asarray(msg.data, np.float32).reshape(dims[0].size, width)
    return int(dims[0].label.removeprefix("episode-")), rows


def command_message(bundle, observation: np.ndarray, z: np.ndarray) -> Float64MultiArray:
    """a = decoder(s, z), clamped to the action bounds, as the forward command."""
    action = bundle.clip_action(bundle.decode(observation, z))[0]
    return Float64MultiArray(data=action.astype(np.float64).tolist())
