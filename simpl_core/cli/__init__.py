"""The `simpl` command line: one sub-command group per concern (data, tasks, bench)."""

from __future__ import annotations

import argparse
import shlex
import sys

from simpl_core.cli import bench, data, meta, skills, tasks


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simpl",
        description="simpl_ros training tools: offline datasets, skills, task sets and benchmarks for skill-based "
                    "meta-reinforcement learning (SPiRL skills + SiMPL).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (data, skills, meta, tasks, bench):
        module.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.command_line = shlex.join(["simpl", *argv])  # recorded as provenance by commands that write artefacts
    try:
        return args.run(args) or 0
    except (ValueError, FileNotFoundError) as err:  # user errors: a clear message, no traceback
        print(f"simpl {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
