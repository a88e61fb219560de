"""What every node's main() shares: init, spin, and a clean exit on Ctrl-C, on shutdown, or on a start-up error
(a bad bundle or task ends the process with a one-line reason and exit code 2, not a traceback)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException

from simpl_core.paths import share_dir
from simpl_core.runtime.bundle import BundleError, PolicyBundle
from simpl_core.tasks import resolve_task


class StartupError(RuntimeError):
    """A node cannot start with the parameters it was given; the message says why."""


def bundle_path(value: str) -> Path:
    """A bundle directory as given, or relative to the installed share folder (models/maze works from anywhere)."""
    path = Path(value)
    if not path.is_absolute() and not path.exists():
        try:
            return share_dir() / path
        except FileNotFoundError:
            return path
    return path


def open_bundle(value: str, *graphs: str) -> PolicyBundle:
    """The verified bundle at `value` (see bundle_path) holding the graphs a node needs; a BundleError says what
    is wrong (at start-up, `run` turns it into the one-line reason and exit code 2)."""
    bundle = PolicyBundle.load(bundle_path(value))
    missing = [graph for graph in graphs if graph not in bundle.sessions]
    if missing:
        raise BundleError(f"{bundle.directory} has no {', '.join(missing)} graph (a skills-only bundle?)")
    warm_up(bundle)
    return bundle


def warm_up(bundle: PolicyBundle) -> None:
    """One inference per graph with zeros at start-up: onnxruntime's first run of a graph is slow (allocations),
    and the robot's first control steps must not pay for it."""
    for session in bundle.sessions.values():
        session.run(
            None,
            {
                graph_input.name: np.zeros([d if isinstance(d, int) else 1 for d in graph_input.shape], np.float32)
                for graph_input in session.get_inputs()
            },
        )


class WarningsByKind:
    """A warning at most every `period_s` per kind of problem (the first three words of what it is about), so one
    kind does not hide another (rclpy's throttle_duration_sec throttles per line of code, not per kind)."""

    def __init__(self, logger, period_s: float = 2.0):
        self.logger, self.period_s = logger, period_s
        self.last: dict[str, float] = {}  # kind -> when it was last logged

    def warn(self, text: str, about: str | None = None) -> None:
        now, kind = time.monotonic(), " ".join((text if about is None else about).split()[:3])
        if now - self.last.get(kind, -1e9) >= self.period_s:
            self.last[kind] = now
            self.logger.warning(text)


def parameter(node, name: str, default):
    """Declare a parameter and return its value as the default's type: `rtf:=5` is a fine double, `task:="[12, 7]"`
    a fine string. A value that does not convert stops the node with a clear message."""
    value = node.declare_parameter(name, default, ParameterDescriptor(dynamic_typing=True)).value
    if isinstance(default, bool):
        return value if isinstance(value, bool) else str(value).lower() in ("true", "1", "yes")
    try:
        return type(default)(value)
    except (TypeError, ValueError):
        raise StartupError(f"parameter {name}={value!r} is not a {type(default).__name__}") from None


def task_from(value, domain_name: str):
    """The task parameter as a task, or None when empty. `-p task:="[12, 7]"` arrives as an integer array, a task
    name as a string. Raises TaskError with the reason."""
    text = value if isinstance(value, str) else json.dumps([int(v) for v in value])
    return resolve_task(text, domain_name) if text.strip() else None


def task_name(task) -> str:
    return task.name if task is not None else "none (task-agnostic)"


def run(node_class, args=None) -> int:
    rclpy.init(args=args)
    node = None
    try:
        try:
            node = node_class()
        except (StartupError, ParameterException, ValueError, FileNotFoundError) as err:
            print(f"[{node_class.__name__}] cannot start: {err}", file=sys.stderr, flush=True)
            return 2
        rclpy.spin(node)  # a bug in a callback from here on is a traceback, not "cannot start"
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RuntimeError:  # RCLError, or pybind11 failing on a message being taken (StartupError is one: caught above)
        if rclpy.ok():
            raise
        # else a signal shut the context down while the executor was busy (ros2/rclpy#398): a clean stop
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
