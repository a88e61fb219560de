"""Packaging: ament_python layout, plain pip install, the import direction, and the ROS 2 runtime itself."""

import ast
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROS_MODULES = (
    "rclpy",
    "std_msgs",
    "std_srvs",
    "sensor_msgs",
    "geometry_msgs",
    "trajectory_msgs",
    "launch",
    "launch_ros",
    "rosbags",
    "builtin_interfaces",
)


def imported_modules(folder: Path) -> dict[Path, set[str]]:
    found = {}
    for path in folder.rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[path] = names
    return found


def test_simpl_core_never_imports_ros_or_simpl_ros():
    for path, names in imported_modules(ROOT / "simpl_core").items():
        assert not names & set(ROS_MODULES), f"{path} imports ROS: {names & set(ROS_MODULES)}"
        assert "simpl_ros" not in names, f"{path} imports simpl_ros (the direction is simpl_ros -> simpl_core)"


def test_package_xml_is_format_3_ament_python():
    root = ET.parse(ROOT / "package.xml").getroot()
    assert root.tag == "package" and root.get("format") == "3"
    assert root.findtext("name") == "simpl_ros"
    assert root.find("export/build_type").text == "ament_python"
    depends = {e.text for e in root.iter("exec_depend")}
    assert {"rclpy", "std_msgs", "sensor_msgs", "launch_ros"} <= depends
    assert (ROOT / "resource" / "simpl_ros").is_file()


def test_pip_install_puts_shared_files_under_share(tmp_path):
    """A non-editable install lays out share/simpl_ros like colcon does, and the code finds its files there."""
    prefix = tmp_path / "prefix"
    # --ignore-installed: without it pip would uninstall the venv's own (editable) simpl_ros first.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--ignore-installed",
            "--prefix",
            str(prefix),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    share = prefix / "share" / "simpl_ros"
    assert (share / "package.xml").is_file()
    assert (share / "config" / "tasks" / "maze.yaml").is_file()
    assert (share / "sim" / "maze" / "maze20_seed0.txt").is_file()
    assert (prefix / "share" / "ament_index" / "resource_index" / "packages" / "simpl_ros").is_file()
    assert (prefix / "bin" / "simpl").is_file()
    site = next(prefix.glob("lib/python3*/site-packages"))
    env = {**os.environ, "PYTHONPATH": str(site), "AMENT_PREFIX_PATH": str(prefix)}
    probe = (
        "import simpl_core.paths as p, simpl_core.tasks as t; "
        "print(p.share_dir()); print(len(t.resolve_tasks('maze-train-40')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=tmp_path, check=True, capture_output=True, text=True
    ).stdout.split()
    assert out == [str(share), "40"]


def test_cli_help_explains_every_command():
    """`python -m simpl_core.cli --help` runs; every group and verb has a help text that explains it."""
    import argparse

    from simpl_core.cli import build_parser

    result = subprocess.run(
        [sys.executable, "-m", "simpl_core.cli", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0 and "usage: simpl" in result.stdout, result.stderr

    def parsers(parser: argparse.ArgumentParser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    yield from parsers(child)

    helps = {parser.prog: parser.format_help() for parser in parsers(build_parser())}
    assert {"simpl skills train", "simpl meta export", "simpl eval curves", "simpl bench env"} <= set(helps)
    assert all(len(text) > 200 and prog in text for prog, text in helps.items()), [
        prog for prog, text in helps.items() if len(text) <= 200
    ]


ROS_PING = """
import sys, rclpy
from std_msgs.msg import String
rclpy.init()
node = rclpy.create_node("ping")
got = []
node.create_subscription(String, "pong", lambda m: got.append(m.data), 10)
pub = node.create_publisher(String, "ping", 10)
for _ in range(200):
    pub.publish(String(data="ping"))
    rclpy.spin_once(node, timeout_sec=0.05)
    if got:
        break
print(got[0] if got else "nothing")
rclpy.shutdown()
"""

ROS_PONG = """
import rclpy
from std_msgs.msg import String
rclpy.init()
node = rclpy.create_node("pong")
pub = node.create_publisher(String, "pong", 10)
node.create_subscription(String, "ping", lambda m: pub.publish(String(data=m.data + "-pong")), 10)
end = node.get_clock().now().nanoseconds + 15e9
while rclpy.ok() and node.get_clock().now().nanoseconds < end:
    rclpy.spin_once(node, timeout_sec=0.1)
"""


def test_ros2_round_trip_between_processes_on_loopback():
    """The ROS 2 wheels work here: two processes talk over DDS, confined to loopback and this run's domain."""
    assert os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    pong = subprocess.Popen([sys.executable, "-c", ROS_PONG])
    try:
        ping = subprocess.run([sys.executable, "-c", ROS_PING], capture_output=True, text=True, timeout=30)
    finally:
        pong.kill()
        pong.wait()
    assert ping.stdout.strip() == "ping-pong", ping.stderr


def test_colcon_build_installs_the_ament_package(tmp_path):
    """What a ROS install does with the package: launch files, config and models under share/simpl_ros, the node
    executables under lib/simpl_ros (where `ros2 run` and launch_ros look), and the ament index entry."""
    source = tmp_path / "src" / "simpl_ros"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", "runs", "datasets", ".git", "__pycache__", "*.egg-info", "build", "install", "log"
        ),
    )
    colcon = Path(sys.executable).parent / "colcon"
    subprocess.run(
        [
            str(colcon),
            "--log-base",
            str(tmp_path / "log"),
            "build",
            "--base-paths",
            str(tmp_path / "src"),
            "--build-base",
            str(tmp_path / "build"),
            "--install-base",
            str(tmp_path / "install"),
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    prefix = tmp_path / "install" / "simpl_ros"
    share = prefix / "share" / "simpl_ros"
    assert (prefix / "share" / "ament_index" / "resource_index" / "packages" / "simpl_ros").is_file()
    for path in (
        "launch/maze_sim.launch.py",
        "config/launch/maze_sim.yaml",
        "config/maze_sim.params.yaml",
        "models/maze/manifest.yaml",
        "sim/maze/maze20_seed0.txt",
        "package.xml",
    ):
        assert (share / path).is_file(), path
    from simpl_ros.executables import NODES

    for executable in NODES:
        assert os.access(prefix / "lib" / "simpl_ros" / executable, os.X_OK), executable
