"""Node graphs (config/launch/<name>.yaml) brought up two ways from the same file: as a launch_ros description
(launch/<name>.launch.py, for ROS 2 installs) and as processes started by `simpl-ros launch <name> arg:=value`
(pip installs, where `launch` and `ros2` are not available): one process per node, logs prefixed with the node's
name, Ctrl-C stops all, and a node that exits stops the stack (or is restarted, with `respawn: true`).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from simpl_core.paths import resource
from simpl_ros.executables import NODES, RENAMED

# $(var NAME); $(not NAME) = XML's $(not $(var NAME)); $(eq NAME VALUE) = XML's $(eq $(var NAME) VALUE)
VARIABLE = re.compile(r"\$\((var|not|eq) ([A-Za-z_][A-Za-z0-9_]*)(?: ([^()\s]+))?\)")


class LaunchError(ValueError):
    """A graph or argument that cannot be launched; the message says which and why."""


@dataclass(frozen=True)
class Graph:
    name: str
    description: str
    params_file: Path
    arguments: dict[str, dict]
    """name -> {default, description, choices?}"""
    nodes: list[dict]
    """{name, executable, parameters, if?, respawn?, on_exit?: shutdown}"""


def graph_file(name: str) -> Path:
    return Path(name) if name.endswith(".yaml") else resource("config", "launch", f"{name}.yaml")


def read_graph(path: Path) -> dict:
    """A graph YAML; with `extends: OTHER` it is OTHER's nodes with its own description, params file and argument
    defaults on top (kitchen_sim is maze_sim's graph with kitchen values: one node list, not two)."""
    raw = yaml.safe_load(path.read_text())
    if "extends" not in raw:
        return raw
    base = read_graph(graph_file(raw.pop("extends")))
    arguments = {name: {**spec, **raw.get("arguments", {}).get(name, {})} for name, spec in base["arguments"].items()}
    unknown = set(raw.get("arguments", {})) - set(arguments)
    if unknown:
        raise LaunchError(f"{path}: arguments {sorted(unknown)} are not arguments of the graph it extends")
    return {**base, **raw, "arguments": arguments, "nodes": base["nodes"]}


def load_graph(name: str) -> Graph:
    """A shipped graph by name (maze_sim) or a graph YAML file."""
    path = graph_file(name)
    raw = read_graph(path)
    for node in raw["nodes"]:
        if node["executable"] in RENAMED:  # a graph file written before the rename
            print(
                f"{path}: node {node['name']}: executable {node['executable']!r} is now "
                f"{RENAMED[node['executable']]!r}",
                file=sys.stderr,
            )
            node["executable"] = RENAMED[node["executable"]]
        if node["executable"] not in NODES:
            raise LaunchError(
                f"{path}: node {node['name']} runs unknown executable {node['executable']!r}; known: {', '.join(NODES)}"
            )
        for value in [*node.get("parameters", {}).values(), node.get("if", "")]:
            for _, variable, _ in VARIABLE.findall(str(value)):
                if variable not in raw["arguments"]:
                    raise LaunchError(f"{path}: node {node['name']} uses $(var {variable}), not an argument")
    return Graph(
        path.stem, raw.get("description", ""), resource(*Path(raw["params_file"]).parts), raw["arguments"], raw["nodes"]
    )


def parts(value) -> list[tuple[str, str, str]]:
    """A parameter value as ("text", s, ""), ("var", name, ""), ("not", name, "") and ("eq", name, value) pieces,
    in order."""
    text, pieces, last = str(value), [], 0
    for match in VARIABLE.finditer(text):
        if match.start() > last:
            pieces.append(("text", text[last : match.start()], ""))
        pieces.append((match.group(1), match.group(2), match.group(3) or ""))
        last = match.end()
    if last < len(text):
        pieces.append(("text", text[last:], ""))
    return pieces


def parse_arguments(graph: Graph, argv: list[str]) -> dict[str, str]:
    """name:=value pairs on top of the graph's defaults; unknown names are refused."""
    values = {name: str(spec["default"]) for name, spec in graph.arguments.items()}
    for item in argv:
        name, sep, value = item.partition(":=")
        if not sep or name not in graph.arguments:
            raise LaunchError(f"{item!r}: expected NAME:=VALUE with NAME one of {', '.join(graph.arguments)}")
        choices = graph.arguments[name].get("choices")
        if choices and value not in choices:
            raise LaunchError(f"{item!r}: {name} is one of {', '.join(choices)}")
        values[name] = value
    return values


def substitute(value, arguments: dict[str, str]) -> str:
    pieces = {
        "text": lambda text, _: text,
        "var": lambda name, _: arguments[name],
        "not": lambda name, _: str(not is_true(arguments[name])).lower(),
        "eq": lambda name, other: str(arguments[name] == other).lower(),
    }
    return "".join(pieces[kind](text, operand) for kind, text, operand in parts(value))


def is_true(text: str) -> bool:
    return text.strip().lower() in ("true", "1", "yes")


@dataclass(frozen=True)
class NodeCommand:
    name: str
    argv: list[str]
    respawn: bool
    shutdown_on_exit: bool
    """its end (code 0) is the graph's end, e.g. the adaptation node's"""


def node_commands(graph: Graph, arguments: dict[str, str]) -> list[NodeCommand]:
    """The processes of the graph: each node's module with its name, the params file and the argument values."""
    commands = []
    for node in graph.nodes:
        if "if" in node and not is_true(substitute(node["if"], arguments)):
            continue
        argv = [
            sys.executable,
            "-m",
            NODES[node["executable"]],
            "--ros-args",
            "-r",
            f"__node:={node['name']}",
            "--params-file",
            str(graph.params_file),
        ]
        for key, value in node.get("parameters", {}).items():
            argv += ["-p", f"{key}:={substitute(value, arguments)}"]
        commands.append(
            NodeCommand(node["name"], argv, bool(node.get("respawn", False)), node.get("on_exit") == "shutdown")
        )
    return commands


# --- the runner -----------------------------------------------------------------------------------------------
def _forward(name: str, stream, out) -> None:
    for line in iter(stream.readline, ""):
        out.write(f"[{name}] {line}")
        out.flush()


TIMED_OUT = 124  # Stack.wait's code for a graph that ran past its time, as timeout(1) exits


class Stack:
    """The graph's processes; `wait()` returns when one exits unexpectedly (0 after stop())."""

    def __init__(self, commands: list[NodeCommand], env: dict | None = None, out=None):
        self.commands, self.env, self.out = commands, env, out or sys.stdout
        self.processes: dict[str, subprocess.Popen] = {}
        self.stopping = threading.Event()

    def start(self) -> "Stack":
        for command in self.commands:
            self._spawn(command)
        return self

    def _spawn(self, command: NodeCommand) -> None:
        process = subprocess.Popen(
            command.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
            start_new_session=True,
        )  # Ctrl-C reaches us, we stop them
        threading.Thread(target=_forward, args=(command.name, process.stdout, self.out), daemon=True).start()
        self.processes[command.name] = process

    def wait(self, poll_s: float = 0.1, timeout_s: float | None = None) -> int:
        """The graph's exit code: 0 when stopped or a shutdown node finished, else the failed node's; TIMED_OUT
        (the graph stopped) when it runs past timeout_s."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not self.stopping.is_set():
            if deadline is not None and time.monotonic() > deadline:
                self.out.write(f"[launch] still running after {timeout_s:g} s; stopping the graph\n")
                self.stop()
                return TIMED_OUT
            for command in self.commands:
                code = self.processes[command.name].poll()
                if code is None:
                    continue
                if code == 0 and command.shutdown_on_exit:
                    self.out.write(f"[launch] {command.name} finished; stopping the graph\n")
                    self.stop()
                    return 0
                self.out.write(f"[launch] node {command.name} exited with code {code}\n")
                if command.respawn:
                    self.out.write(f"[launch] restarting {command.name}\n")
                    self._spawn(command)
                    continue
                self.stop()
                return code or 1
            time.sleep(poll_s)
        return 0

    def stop(self, sigterm_timeout_s: float = 5.0, sigkill_timeout_s: float = 5.0) -> None:
        """SIGINT to every node (rclpy shuts down cleanly), then, as ros2 launch escalates, SIGTERM to any still
        running after sigterm_timeout_s and SIGKILL after sigkill_timeout_s more."""
        self.stopping.set()
        running = self._signal_running(signal.SIGINT, dict(self.processes))
        running = self._signal_running(signal.SIGTERM, self._wait_for(running, sigterm_timeout_s))
        for name, process in self._wait_for(running, sigkill_timeout_s).items():
            self.out.write(f"[launch] {name} did not stop within {sigterm_timeout_s + sigkill_timeout_s:g} s; killed\n")
            process.kill()
            process.wait()

    @staticmethod
    def _signal_running(signum: int, processes: dict[str, subprocess.Popen]) -> dict[str, subprocess.Popen]:
        running = {name: process for name, process in processes.items() if process.poll() is None}
        for process in running.values():
            process.send_signal(signum)
        return running

    @staticmethod
    def _wait_for(processes: dict[str, subprocess.Popen], timeout_s: float) -> dict[str, subprocess.Popen]:
        """The processes still running after timeout_s."""
        deadline = time.monotonic() + timeout_s
        for process in processes.values():
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        return {name: process for name, process in processes.items() if process.poll() is None}


def run_graph(name: str, argv: list[str]) -> int:
    graph = load_graph(name)
    commands = node_commands(graph, parse_arguments(graph, argv))
    stack = Stack(commands, env={**os.environ, "PYTHONUNBUFFERED": "1"}).start()
    print(f"[launch] {graph.name}: started {', '.join(c.name for c in commands)}; Ctrl-C stops them", flush=True)
    try:
        return stack.wait()
    except KeyboardInterrupt:
        print("[launch] stopping", flush=True)
        stack.stop()
        return 0


# --- the same graph as a launch_ros description ---------------------------------------------------------------
def launch_description(name: str):
    """LaunchDescription of a graph: one DeclareLaunchArgument per argument, one launch_ros Node per node."""
    from launch.actions import DeclareLaunchArgument, Shutdown
    from launch.conditions import IfCondition
    from launch.substitutions import EqualsSubstitution, LaunchConfiguration, NotSubstitution, TextSubstitution
    from launch_ros.actions import Node

    from launch import LaunchDescription

    pieces = {
        "text": lambda text, _: TextSubstitution(text=text),
        "var": lambda name, _: LaunchConfiguration(name),
        "not": lambda name, _: NotSubstitution(LaunchConfiguration(name)),
        "eq": lambda name, other: EqualsSubstitution(LaunchConfiguration(name), other),
    }

    def substitutions(value):
        return [pieces[kind](text, operand) for kind, text, operand in parts(value)]

    graph = load_graph(name)
    actions = [
        DeclareLaunchArgument(
            arg,
            default_value=str(spec["default"]),
            description=spec.get("description", ""),
            choices=spec.get("choices"),
        )
        for arg, spec in graph.arguments.items()
    ]
    for node in graph.nodes:
        parameters = {key: substitutions(value) for key, value in node.get("parameters", {}).items()}
        condition = IfCondition(substitutions(node["if"])) if "if" in node else None
        actions.append(
            Node(
                package="simpl_ros",
                executable=node["executable"],
                name=node["name"],
                output="screen",
                parameters=[str(graph.params_file), parameters],
                condition=condition,
                respawn=bool(node.get("respawn", False)),
                on_exit=Shutdown() if node.get("on_exit") == "shutdown" else None,
            )
        )
    return LaunchDescription(actions)
