"""Named task sets: load them from config/tasks/<domain>.yaml or from a user file in the same format.

A task file holds `domain: <name>` and `task_sets: {set-name: [task, ...]}`; each domain knows how to parse and
validate its own tasks (maze: a goal cell [x, y]; kitchen: 4 subtask names in order).
`resolve_tasks("maze-train-40")` finds a shipped set by name;
`resolve_tasks("my_tasks.yaml")` or `resolve_tasks("my_tasks.yaml:set-name")` loads a user file.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from simpl_core.paths import resource

# domain -> "module:function" that turns one raw YAML task into a task object (raises ValueError when invalid)
TASK_PARSERS = {
    "maze": "simpl_core.envs.maze.task:parse_maze_task",
    "kitchen": "simpl_core.envs.kitchen.task:parse_kitchen_task",
}


class TaskError(ValueError):
    """A task name, file or entry that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class TaskSet:
    name: str
    domain: str
    tasks: tuple

    def __len__(self) -> int:
        return len(self.tasks)


def _parser(domain: str, source: str):
    if domain not in TASK_PARSERS:
        raise TaskError(f"{source}: unknown domain {domain!r}; known domains: {', '.join(sorted(TASK_PARSERS))}")
    module, function = TASK_PARSERS[domain].split(":")
    return getattr(importlib.import_module(module), function)


def load_task_file(path: str | Path) -> dict[str, TaskSet]:
    """Every task set of one YAML file, validated."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise TaskError(f"cannot read task file {path}: {err}") from err
    if (
        not isinstance(raw, dict)
        or not isinstance(raw.get("domain"), str)
        or not isinstance(raw.get("task_sets"), dict)
    ):
        raise TaskError(f"{path}: a task file needs 'domain: <name>' and 'task_sets: {{name: [task, ...]}}'")
    parse = _parser(raw["domain"], str(path))
    sets = {}
    for name, entries in raw["task_sets"].items():
        if not isinstance(entries, list) or not entries:
            raise TaskError(f"{path}: task set {name!r} must be a non-empty list of tasks")
        try:
            tasks = tuple(parse(entry) for entry in entries)
        except ValueError as err:
            raise TaskError(f"{path}: task set {name!r}: {err}") from err
        sets[str(name)] = TaskSet(name=str(name), domain=raw["domain"], tasks=tasks)
    return sets


def builtin_task_sets() -> dict[str, TaskSet]:
    """All task sets shipped in config/tasks/, by name."""
    sets: dict[str, TaskSet] = {}
    for path in sorted(resource("config", "tasks").glob("*.yaml")):
        sets.update(load_task_file(path))
    return sets


def resolve_tasks(spec: str) -> TaskSet:
    """A task set from a shipped name, a YAML file with one set, or FILE:SET-NAME."""
    path_text, _, set_name = spec.partition(":")
    path = Path(path_text)
    if path.suffix not in (".yaml", ".yml"):
        sets = builtin_task_sets()
        if spec not in sets:
            raise TaskError(f"unknown task set {spec!r}; shipped sets: {', '.join(sets)} (or pass a YAML file)")
        return sets[spec]
    if not path.is_file():
        raise TaskError(f"task file {path} does not exist")
    sets = load_task_file(path)
    if set_name:
        if set_name not in sets:
            raise TaskError(f"{path} has no task set {set_name!r}; it has: {', '.join(sets)}")
        return sets[set_name]
    if len(sets) != 1:
        raise TaskError(f"{path} holds {len(sets)} task sets ({', '.join(sets)}); pick one with {path}:NAME")
    return next(iter(sets.values()))


def resolve_task(spec: str, domain: str):
    """One task from text: the domain's YAML form (maze: "[12, 7]") or SET:INDEX of a shipped set
    ("maze-target-10:0")."""
    set_name, sep, index = spec.rpartition(":")
    if sep and index.strip().isdigit() and not set_name.endswith((".yaml", ".yml")):
        task_set = resolve_tasks(set_name)
        if task_set.domain != domain or int(index) >= len(task_set):
            raise TaskError(
                f"task {spec!r}: {set_name} is a {task_set.domain} set of {len(task_set)} tasks, "
                f"wanted a {domain} task index below {len(task_set)}"
            )
        return task_set.tasks[int(index)]
    try:
        raw = yaml.safe_load(spec)
        return _parser(domain, "task")(raw)
    except (yaml.YAMLError, ValueError) as err:
        raise TaskError(f"task {spec!r}: {err}") from None
