"""`simpl data`: generate offline datasets (Minari on-disk format) and inspect them."""

from __future__ import annotations

import time
from pathlib import Path

from simpl_core.cli.grammar import add_group, add_verb


def add_parser(commands) -> None:
    verbs = add_group(
        commands,
        "data",
        help="generate or inspect offline datasets",
        description="Offline datasets in the Minari on-disk layout (HDF5 + metadata.json).",
    )

    maze = add_verb(
        verbs,
        "maze",
        run_maze,
        help="task-agnostic planner runs in the maze",
        description="Record planner runs between random cells of the maze (grid shortest path, PD controller, "
        "Gaussian action noise). No rewards and no task labels are stored. The output directory "
        "name must end in -vN (Minari naming), e.g. datasets/maze-planner-v0.",
    )
    amount = maze.add_mutually_exclusive_group()
    amount.add_argument(
        "--transitions", type=int, default=None, help="stop after this many transitions (default 500000)"
    )
    amount.add_argument("--episodes", type=int, default=None, help="stop after this many episodes")
    maze.add_argument("--out", required=True, help="dataset directory, e.g. datasets/maze-planner-v0")
    maze.add_argument("--num-envs", type=int, default=64, help="episodes run in parallel (default 64)")
    maze.add_argument("--noise", type=float, default=0.1, help="std of the action noise (default 0.1)")
    maze.add_argument("--seed", type=int, default=0)
    maze.add_argument("--overwrite", action="store_true", help="replace an existing dataset at --out")

    kitchen = add_verb(
        verbs,
        "kitchen",
        run_kitchen,
        help="scripted teleoperation of random subtask sequences in the kitchen",
        description="Record scripted-teleop play data in FrankaKitchen-v1: each episode performs random distinct "
        "subtasks in a random order through the Cartesian teleop interface (twist -> joint velocities), "
        "with noise. No rewards and no task labels are stored. The output directory name must end in "
        "-vN (Minari naming), e.g. datasets/kitchen-teleop-v1. --recipe v1 (default) stores DART-style "
        "corrective labels (the clean command at the state the noisy execution reached) as the actions "
        "and the executed ones in infos/executed_actions, from a perturbed start pose; --recipe v2 is v1 "
        "with the door pulls, kettle carry and releases aimed from the scene as it is now (never from "
        "where a phase began); --recipe v0 is the data of the shipped models/kitchen skills (noisy "
        "commands stored as the actions).",
    )
    kitchen.add_argument(
        "--recipe",
        choices=("v0", "v1", "v2"),
        default="v1",
        help="how the operator records (default v1; see above and RECIPES in kitchen_demos.py)",
    )
    kitchen.add_argument("--episodes", type=int, default=600, help="episodes to record (default 600, as the paper)")
    kitchen.add_argument("--out", required=True, help="dataset directory, e.g. datasets/kitchen-teleop-v0")
    kitchen.add_argument("--subtasks", type=int, default=4, help="subtasks per episode (default 4)")
    kitchen.add_argument("--noise", type=float, default=1.0, help="scale of the teleoperator's noise (default 1)")
    kitchen.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    kitchen.add_argument("--seed", type=int, default=0)
    kitchen.add_argument("--overwrite", action="store_true", help="replace an existing dataset at --out")

    inspect = add_verb(
        verbs,
        "inspect",
        run_inspect,
        help="summarise a dataset and draw it",
        description="Print episode count, lengths and state/action ranges; for maze data, draw the trajectories "
        "on the map to a PNG. PATH is a dataset directory or a Minari dataset id.",
    )
    inspect.add_argument("path", help="dataset directory (or its data/ folder, or a Minari id)")
    inspect.add_argument("--png", help="where to draw the trajectories (default: <dataset>/trajectories.png)")
    inspect.add_argument("--max-episodes", type=int, default=300, help="episodes to draw (default 300)")


def run_maze(args) -> int:
    import gymnasium

    from simpl_core.data.maze_planner import PlannerConfig, generate_maze_episodes
    from simpl_core.data.minari_io import write_dataset
    from simpl_core.envs import MAZE_ENV_ID

    out = Path(args.out)
    _refuse_existing(out, args.overwrite)
    transitions = None if args.episodes else (args.transitions or 500_000)
    cfg = PlannerConfig(
        transitions=transitions, episodes=args.episodes, num_envs=args.num_envs, action_noise=args.noise, seed=args.seed
    )
    start = time.perf_counter()
    episodes, stats = generate_maze_episodes(cfg)
    elapsed = time.perf_counter() - start
    spec = gymnasium.spec(MAZE_ENV_ID)
    path = write_dataset(
        out,
        episodes,
        spec.make().observation_space,
        spec.make().action_space,
        description="Task-agnostic planner runs between random cells of SiMPL's 20x20 maze "
        "(simpl data maze); rewards are zeros, no task labels.",
        algorithm_name="grid shortest path + PD controller + Gaussian action noise",
        extra_metadata={"env_spec": spec.to_json()},
    )
    _report_written(path, stats, elapsed)
    print(f"planner reached its goal in {stats.reached_goal / max(stats.episodes, 1):.1%} of episodes")
    return 0


def _refuse_existing(out: Path, overwrite: bool) -> None:
    """Before generating: `out` must make a valid Minari id and hold no dataset unless --overwrite."""
    from simpl_core.data.minari_io import dataset_id_for

    dataset_id_for(out)
    if (out / "data").exists() and not overwrite:
        raise ValueError(f"{out} already holds a dataset; pass --overwrite to replace it")


def _report_written(path: Path, stats, elapsed: float) -> None:
    size_mb = sum(f.stat().st_size for f in (path / "data").iterdir()) / 2**20
    print(f"wrote {stats.episodes} episodes, {stats.transitions} transitions to {path} ({size_mb:.1f} MB)")
    print(f"generation: {elapsed:.1f} s, {stats.transitions / elapsed:,.0f} transitions/s")


def run_kitchen(args) -> int:
    import dataclasses

    import gymnasium

    from simpl_core.data.kitchen_demos import RECIPES, generate_kitchen_episodes
    from simpl_core.data.minari_io import write_dataset
    from simpl_core.envs import KITCHEN_ENV_ID

    out = Path(args.out)
    _refuse_existing(out, args.overwrite)
    cfg = dataclasses.replace(
        RECIPES[args.recipe],
        episodes=args.episodes,
        subtasks_per_episode=args.subtasks,
        noise_scale=args.noise,
        seed=args.seed,
        workers=args.workers,
    )
    start = time.perf_counter()
    episodes, stats = generate_kitchen_episodes(cfg)
    elapsed = time.perf_counter() - start
    spec = gymnasium.spec(KITCHEN_ENV_ID)
    env = spec.make()
    rates = stats.success_rates()
    path = write_dataset(
        out,
        episodes,
        env.observation_space,
        env.action_space,
        description="Task-agnostic scripted teleoperation in FrankaKitchen-v1 (simpl data kitchen): "
        f"{cfg.subtasks_per_episode} random distinct subtasks per episode in random "
        f"order (recipe {args.recipe}); rewards are zeros, no task labels."
        + (" Actions are corrective labels; infos/executed_actions were executed." if cfg.corrective_labels else ""),
        algorithm_name="scripted Cartesian teleoperator (twist -> damped least squares) + noise",
        extra_metadata={
            "env_spec": spec.to_json(),
            "command_line": args.command_line,
            "recipe": args.recipe,
            "teleop_subtask_success": rates,
        },
    )
    _report_written(path, stats, elapsed)
    print(
        "scripted operator, episodes completing each subtask it attempted: "
        + ", ".join(f"{name} {rate:.0%}" for name, rate in rates.items())
    )
    return 0


def run_inspect(args) -> int:
    from simpl_core.data.inspect import (
        dataset_domain,
        kitchen_coverage,
        plot_kitchen_coverage,
        plot_maze_trajectories,
        subtask_orders,
        summarize,
    )
    from simpl_core.data.minari_io import load_dataset

    dataset = load_dataset(args.path)
    print(summarize(dataset))
    domain = dataset_domain(dataset)
    if domain == "maze":
        png = Path(args.png) if args.png else dataset.path / "trajectories.png"
        shown = [episode.observations for episode in dataset.episodes[: args.max_episodes]]
        title = f"{len(shown)} of {dataset.num_episodes} episodes, {dataset.num_transitions} transitions"
        print(f"trajectories drawn to {plot_maze_trajectories(shown, png, title)}")
    if domain == "kitchen":
        orders = subtask_orders(dataset)
        print(
            "subtasks     episodes completing each: "
            + ", ".join(f"{name} {count}" for name, count in kitchen_coverage(orders).items())
        )
        png = Path(args.png) if args.png else dataset.path / "subtasks.png"
        print(f"subtask coverage drawn to {plot_kitchen_coverage(dataset, orders, png)}")
    return 0
