"""`simpl tasks`: list the shipped task sets or show one (by name or from a YAML file)."""

from __future__ import annotations

from simpl_core.tasks import builtin_task_sets, resolve_tasks


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "tasks", help="list or show task sets", description="List the shipped task sets, or show the tasks of one."
    )
    parser.add_argument("name", nargs="?", help="a task set name, FILE.yaml or FILE.yaml:NAME to show")
    parser.set_defaults(run=run, parser=parser)


def run(args) -> int:
    if args.name is None:
        for name, task_set in builtin_task_sets().items():
            print(f"{name:22s} {task_set.domain:8s} {len(task_set):3d} tasks")
        return 0
    task_set = resolve_tasks(args.name)
    print(f"{task_set.name} ({task_set.domain}, {len(task_set)} tasks)")
    for task in task_set.tasks:
        print(f"  {task.name}")
    return 0
