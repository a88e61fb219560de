"""The `simpl GROUP VERB` grammar: groups of verbs, and the old flat spellings that still work under new names."""

from __future__ import annotations

import argparse
from typing import Callable


def add_group(commands, name: str, help: str, description: str | None = None):
    """A command group (`simpl NAME ...`); returns the sub-parsers its verbs are added to."""
    group = commands.add_parser(name, help=help, description=description or help)
    return group.add_subparsers(dest="verb", required=True, metavar="VERB")


def add_verb(
    verbs, name: str, run: Callable[[argparse.Namespace], int], help: str, description: str | None = None
) -> argparse.ArgumentParser:
    """A verb that calls `run(args)`; its parser is kept in args.parser to report errors with its usage."""
    parser = verbs.add_parser(name, help=help, description=description or help)
    parser.set_defaults(run=run, parser=parser)
    return parser


def add_show_config(verbs, what: str, example: str, describe: Callable[[str], str]) -> None:
    """`simpl GROUP show-config CONFIG`: the effective values of a YAML config, with each field's doc."""

    def run(args) -> int:
        print(describe(args.config))
        return 0

    parser = add_verb(
        verbs,
        "show-config",
        run,
        help=f"print the effective {what} of a YAML config, with docs",
        description=f"Read CONFIG (and the `base:` it names) over the dataclass defaults and print "
        f"every {what} setting: its value, the default where the config changes it, and "
        f"what it is. The dataclass is the one home of each setting; YAML files state "
        f"only what they change.",
    )
    parser.add_argument("config", metavar="CONFIG", help=f"YAML file, e.g. {example}")


# Old spelling (leading words) -> the words that replace them.
OLD_SPELLINGS = {
    ("train-skills",): ("skills", "train"),
    ("eval-prior",): ("skills", "eval-prior"),
    ("eval-skills",): ("skills", "eval-skills"),
    ("meta-train",): ("meta", "train"),
    ("meta-report",): ("meta", "report"),
    ("adapt",): ("eval", "sample-efficiency", "--methods", "simpl"),
    ("bench", "sample-efficiency"): ("eval", "sample-efficiency"),
    ("bench", "curves"): ("eval", "curves"),
    ("bench", "task-inference"): ("eval", "task-inference"),
    ("bench", "reproduce"): ("eval", "reproduce"),
}


def _old_export(argv: list[str]) -> list[list[str]]:
    """`simpl export --skills RUN [--meta RUN] --out BUNDLE` -> `skills export` and/or `meta export`."""
    parser = argparse.ArgumentParser(
        prog="simpl export",
        description="Old spelling of `simpl skills export RUN --out BUNDLE` (--skills) and "
        "`simpl meta export RUN --out BUNDLE` (--meta); both run, skills first.",
    )
    parser.add_argument("--skills", help="skill run directory")
    parser.add_argument("--meta", help="meta-training run directory")
    parser.add_argument("--out", required=True, help="bundle directory")
    args = parser.parse_args(argv)
    if not (args.skills or args.meta):
        parser.error("pass --skills RUN, --meta RUN, or both")
    return [
        [group, "export", run, "--out", args.out]
        for group, run in (("skills", args.skills), ("meta", args.meta))
        if run
    ]


def new_spellings(argv: list[str]) -> list[list[str]]:
    """The command line(s) in today's grammar that an old spelling stands for (`argv` itself if it is not old)."""
    if argv[:1] == ["export"]:
        return _old_export(argv[1:])
    for old, new in OLD_SPELLINGS.items():
        if tuple(argv[: len(old)]) == old:
            return [[*new, *argv[len(old) :]]]
    return [argv]
