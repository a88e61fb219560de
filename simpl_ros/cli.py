"""`simpl-ros`: bring up node graphs without ROS's launch tools (pip installs), and measure them."""

from __future__ import annotations

import argparse
import signal
import sys

from simpl_ros.tools.launcher import LaunchError, load_graph, run_graph


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simpl-ros",
        description="simpl_ros serving stack: run the node graphs of config/launch/ as processes "
        "(the same graphs that launch/*.launch.py give `ros2 launch`).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    launch = commands.add_parser(
        "launch",
        help="start a node graph: simpl-ros launch maze_sim [name:=value ...]",
        description="Start every node of a graph (a name from config/launch/, e.g. maze_sim, or a graph YAML file) "
        "as its own process, with logs prefixed by node name. Ctrl-C stops them all; a node that exits "
        "stops the stack. `simpl-ros launch maze_sim --show-args` lists the arguments.",
    )
    launch.add_argument("graph", help="graph name (maze_sim) or YAML file")
    launch.add_argument("arguments", nargs="*", metavar="name:=value", help="launch arguments")
    launch.add_argument("--show-args", action="store_true", help="list the graph's arguments and exit")
    launch.set_defaults(run=run_launch)

    bench = commands.add_parser(
        "bench",
        help="latency of the running graph and compute per node call",
        description="Bring up maze_sim at its 100 Hz control rate (real processes, DDS on this machine) until "
        "--steps control steps are done; report observation -> command latency (p50/p99/max), missed "
        "deadlines, and the selector's, decoder's and encoder's compute per call; then the same round trip "
        "with no work in it (two bare rclpy processes at the same rate: the floor on this machine). "
        "Writes latency.json "
        "and latency.png (histogram) to --out.",
    )
    bench.add_argument(
        "--steps",
        type=int,
        default=10_000,
        help="control steps to time, graph and floor each (default 10000, ~100 s each)",
    )
    bench.add_argument("--bundle", default="models/maze", help="policy bundle (default models/maze)")
    bench.add_argument("--out", default="runs/bench_ros", help="output directory (default runs/bench_ros)")
    bench.set_defaults(run=run_bench)
    return parser


def run_bench(args) -> int:
    from simpl_ros.tools import bench

    print(bench.format_report(bench.run(args.steps, args.bundle, args.out)))
    print(f"report: {args.out}/latency.json, histogram: {args.out}/latency.png")
    return 0


def run_launch(args) -> int:
    graph = load_graph(args.graph)
    if args.show_args:
        print(f"{graph.name}: {graph.description}")
        for name, spec in graph.arguments.items():
            choices = f" (one of {', '.join(spec['choices'])})" if spec.get("choices") else ""
            print(f"  {name}:={spec['default']}\n      {spec.get('description', '')}{choices}")
        return 0
    return run_graph(args.graph, args.arguments)


def stop_on_sigterm() -> None:
    """`kill` (SIGTERM) stops the graph as cleanly as Ctrl-C does."""

    def interrupt(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    stop_on_sigterm()
    try:
        return args.run(args)
    except (LaunchError, FileNotFoundError) as err:
        print(f"simpl-ros {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
