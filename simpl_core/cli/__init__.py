"""The `simpl` command line: `simpl GROUP VERB`, one group per concern; the old flat spellings still work."""

from __future__ import annotations

import argparse
import shlex
import sys

from simpl_core.cli import bench, data, eval, meta, skills, tasks
from simpl_core.cli.grammar import OLD_SPELLINGS, new_spellings


def build_parser() -> argparse.ArgumentParser:
    old = ", ".join(" ".join(words) for words in OLD_SPELLINGS)
    parser = argparse.ArgumentParser(
        prog="simpl",
        description="simpl_ros training tools: offline datasets, skills, task sets and benchmarks for skill-based "
        "meta-reinforcement learning (SPiRL skills + SiMPL). `simpl GROUP --help` lists a group's verbs.",
        epilog=f"Old spellings still work and print their new name: {old}, export.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="GROUP")
    for module in (data, skills, meta, eval, bench, tasks):
        module.add_parser(commands)
    return parser


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    args.command_line = shlex.join(["simpl", *argv])  # recorded as provenance by commands that write artefacts
    try:
        return args.run(args) or 0
    except (ValueError, FileNotFoundError) as err:  # user errors: one line as argparse words them, no traceback
        print(f"{args.parser.prog}: error: {err}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spellings = new_spellings(argv)
    if spellings != [argv]:
        print(
            f"simpl: `{shlex.join(['simpl', *argv])}` is now spelled "
            + " then ".join(f"`{shlex.join(['simpl', *words])}`" for words in spellings),
            file=sys.stderr,
        )
    for words in spellings:
        code = run(words)
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
