"""`simpl eval {sample-efficiency,curves,task-inference,reproduce}`: target-task learning of the methods, compared
as in the paper, and probes of a meta-trained policy (not throughput: that is `simpl bench`)."""

from __future__ import annotations

from pathlib import Path

from simpl_core.cli.grammar import add_group, add_show_config, add_verb
from simpl_core.runtime.protocol import EXPLORATION_EPISODES

FIRST_SEED_HELP = (
    "seeds are FIRST_SEED, FIRST_SEED+1, ... (default 0): run seeds in separate runs, e.g. one per "
    "session, and read them together with `simpl eval curves A/returns.csv B/returns.csv`"
)


def add_parser(commands) -> None:
    verbs = add_group(
        commands, "eval", help="target-task learning curves of the methods, and probes of a meta-trained policy"
    )
    efficiency = add_verb(
        verbs,
        "sample-efficiency",
        run_sample_efficiency,
        help="target-task learning curves of several methods (the paper's comparison)",
        description="Run each method on every target task with several seeds, in the same harness and budget; "
        "write returns.csv (every episode's return) and learning_curves.png (mean +- std over tasks "
        "and seeds, dotted line at the end of SiMPL's exploration), and print the checkpoints.",
    )
    efficiency.add_argument(
        "--domain",
        choices=["maze", "kitchen"],
        default="maze",
        help="picks the defaults of --bundle, --tasks, --out and the baselines' runs; the "
        "protocol's values (horizon, SAC targets) follow the bundle's domain",
    )
    efficiency.add_argument("--bundle", help="meta-trained bundle (default models/DOMAIN)")
    efficiency.add_argument("--tasks", help="target task set (default DOMAIN-target-10)")
    efficiency.add_argument(
        "--methods",
        default="simpl,spirl",
        help="comma-separated, from: simpl, spirl (skills, no meta-training), mtrl (skills, "
        "multi-task policy told the task id; needs --mtrl-run), sac (flat, primitive "
        "actions), pearl and pearl-ft (primitive-action meta-RL, without and with "
        "fine-tuning; need --pearl-run). Default simpl,spirl",
    )
    efficiency.add_argument(
        "--simpl-run",
        help="SiMPL meta-training run to adapt from instead of the bundle's (e.g. one meta-trained on fewer tasks)",
    )
    efficiency.add_argument(
        "--pearl-run", help="PEARL meta-training run (default runs/pearl_DOMAIN, made by `make baselines`)"
    )
    efficiency.add_argument(
        "--mtrl-run", help="MTRL multi-task training run (default runs/mtrl_DOMAIN, made by `make baselines`)"
    )
    efficiency.add_argument("--episodes", type=int, default=100, help="episodes per task and seed")
    efficiency.add_argument("--seeds", type=int, default=3)
    efficiency.add_argument("--first-seed", type=int, default=0, help=FIRST_SEED_HELP)
    efficiency.add_argument("--out", help="output directory (default runs/bench_DOMAIN)")
    efficiency.add_argument("--workers", type=int, default=2, help="processes sharing the learners (default 2)")
    efficiency.add_argument(
        "--target-config",
        metavar="YAML",
        help="target-learning settings (default config/target_DOMAIN.yaml for the bundle's "
        "domain; `simpl eval show-config` prints them); --episodes overrides its episodes",
    )

    curves = add_verb(
        verbs,
        "curves",
        run_curves,
        help="summarise and re-plot sample-efficiency returns.csv files",
        description="Print the checkpoint table (mean return over a 5-episode window around the paper's "
        "checkpoints: maze episodes 20, 60, 100, 300; kitchen 20, 50, 100, 200; the domain comes from "
        "the run.json beside the CSV) and the mean return over the exploration episodes and after, and "
        "redraw the curves. Several CSVs (runs of other seeds or methods, same domain) are read as one "
        "run; a (method, task, seed, episode) in two of them is refused. A returns.partial.csv of a "
        "run cut short reads too.",
    )
    curves.add_argument("csv", nargs="+", help="returns.csv from sample-efficiency or adapt")
    curves.add_argument("--exploration-episodes", type=int, default=EXPLORATION_EPISODES)
    curves.add_argument(
        "--task",
        action="append",
        help="only this task, as the CSV names it, e.g. 'goal(20,16)'; repeat for several (needs --png)",
    )
    curves.add_argument("--block", type=int, help="also print the mean return per block of this many episodes")
    curves.add_argument("--png", help="where to draw the curves (default: next to the CSV; required with several)")
    curves.add_argument(
        "--method",
        action="append",
        help="only this method, as printed (after --label); repeat for several (needs --png)",
    )
    curves.add_argument(
        "--label",
        action="append",
        help="once per CSV: its methods are shown as METHOD-LABEL, so runs of one method from "
        "different meta-trainings (e.g. 40, 20, 10 tasks) sit side by side instead of merging "
        "(needs --png)",
    )
    curves.add_argument(
        "--record-in",
        metavar="BUNDLE",
        help="also write SiMPL's numbers into this bundle's manifest (the run must have adapted "
        "this bundle's meta-training)",
    )

    inference_probe = add_verb(
        verbs,
        "task-inference",
        run_task_inference,
        help="does the meta-trained policy act on the task its encoder infers?",
        description="Explore every task as SiMPL's target learning does (episodes with e ~ p(e)), encode e* from "
        "all exploration transitions, then roll out the meta-trained policy without learning, "
        "conditioned on the task's own e*, on another task's e*, and on the prior mean e = 0. A policy "
        "that uses the inferred task earns most with its own e* (returns: maze success, kitchen completed "
        "subtasks). Prints the mean return per condition and per task and the spread of e* across "
        "tasks; writes them to --out as JSON.",
    )
    inference_probe.add_argument("--bundle", default="models/maze", help="meta-trained bundle (default models/maze)")
    inference_probe.add_argument(
        "--meta-run", help="probe this meta-training run (SiMPL or PEARL) instead of the bundle's meta-training"
    )
    inference_probe.add_argument("--tasks", help="task set (default DOMAIN-target-10)")
    inference_probe.add_argument(
        "--exploration-episodes",
        type=int,
        default=EXPLORATION_EPISODES,
        help="episodes per task before e* is encoded (default %(default)s, as target learning)",
    )
    inference_probe.add_argument(
        "--episodes", type=int, default=20, help="episodes per task and condition after (default 20)"
    )
    inference_probe.add_argument(
        "--e-star-sets",
        type=int,
        default=0,
        metavar="K",
        help="0 (default, the paper): e* = q(e | all exploration transitions); K: the mean over K sets of the "
        "meta-training context size drawn from them",
    )
    inference_probe.add_argument("--seed", type=int, default=0)
    inference_probe.add_argument("--out", help="JSON report (default runs/task_inference_DOMAIN.json)")

    reproduce = add_verb(
        verbs,
        "reproduce",
        run_reproduce,
        help="re-measure the SiMPL numbers a bundle's manifest records, on fresh seeds",
        description="Re-run the target learning recorded in the bundle's manifest (same target tasks, protocol and "
        "number of seeds; seeds from --first-seed) and compare each recorded checkpoint with the new "
        "measurement: reproduced when they differ by at most two standard errors of the difference. "
        "Writes returns.csv, learning_curves.png and reproduce.json; exits 1 when a checkpoint is off.",
    )
    reproduce.add_argument("--bundle", default="models/maze", help="meta-trained bundle (default models/maze)")
    reproduce.add_argument(
        "--first-seed",
        type=int,
        default=100,
        help="first of the fresh seeds (default 100; must not overlap the recorded seeds)",
    )
    reproduce.add_argument("--out", default="runs/reproduce_maze", help="output directory")
    reproduce.add_argument("--workers", type=int, default=2, help="processes sharing the learners (default 2)")

    add_show_config(verbs, "target-learning", "config/target_kitchen.yaml", describe_target_config)


def describe_target_config(path: str) -> str:
    import dataclasses

    from simpl_core.meta.adapt import TargetConfig
    from simpl_core.rl.constrained_sac import SacConfig
    from simpl_core.runs import describe_config

    values = dataclasses.asdict(TargetConfig.from_yaml(path))
    sac = {name: values.pop(name) for name in ("simpl_sac", "spirl_sac", "sac_sac")}
    return describe_config(TargetConfig, values) + "".join(
        f"\n\n{name}:\n" + describe_config(SacConfig, section) for name, section in sac.items()
    )


def run_sample_efficiency(args) -> int:
    from simpl_core.experiments.harness import sample_efficiency
    from simpl_core.meta.adapt import TargetConfig
    from simpl_core.runtime.bundle import PolicyBundle
    from simpl_core.tasks import resolve_tasks

    defaults = {
        "bundle": f"models/{args.domain}",
        "tasks": f"{args.domain}-target-10",
        "out": f"runs/bench_{args.domain}",
        "pearl_run": f"runs/pearl_{args.domain}",
        "mtrl_run": f"runs/mtrl_{args.domain}",
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    domain = PolicyBundle.read_manifest(Path(args.bundle))["domain"]  # the protocol's values follow the bundle
    target = (
        TargetConfig.from_yaml(args.target_config, episodes=args.episodes)
        if args.target_config
        else TargetConfig.for_domain(domain, episodes=args.episodes)
    )
    result = sample_efficiency(
        args.methods.split(","),
        args.bundle,
        resolve_tasks(args.tasks),
        target,
        args.seeds,
        args.out,
        workers=args.workers,
        runs={kind: getattr(args, f"{kind}_run", None) for kind in ("simpl", "pearl", "mtrl")},
        command=args.command_line,
        first_seed=args.first_seed,
    )
    print(f"returns: {result['csv']}   curves: {result['png']}")
    print_tables(result["checkpoints"], result["phases"], result["learning"])
    return 0


def run_curves(args) -> int:
    import json

    from simpl_core.experiments.plots import plot_curves, return_label
    from simpl_core.experiments.results import (
        block_table,
        checkpoint_errors,
        checkpoint_table,
        label_methods,
        learning_table,
        merge_runs,
        phase_table,
        read_csv,
        rows_with,
    )

    if len(args.csv) > 1 and (args.record_in or not args.png):
        raise ValueError("with several CSVs give --png, and record one run at a time (--record-in takes one CSV)")
    if (args.task or args.method or args.label) and (args.record_in or not args.png):
        raise ValueError(
            "with --task, --method or --label give --png (the run's own curves stay as they are) and do not --record-in"
        )
    if args.label and len(args.label) != len(args.csv):
        raise ValueError(f"give --label once per CSV ({len(args.csv)} CSVs, {len(args.label)} labels)")
    if args.block is not None and args.block < 1:
        raise ValueError("--block must be at least 1")
    domains = {
        json.loads(info.read_text()).get("domain", "maze") if info.exists() else "maze"
        for info in (Path(csv).with_name("run.json") for csv in args.csv)
    }
    if len(domains) > 1:
        raise ValueError(f"the CSVs come from different domains ({', '.join(sorted(domains))})")
    try:
        runs = [read_csv(csv) for csv in args.csv]
        rows = merge_runs([label_methods(run, label) for run, label in zip(runs, args.label)] if args.label else runs)
        for column, wanted in (("task", args.task), ("method", args.method)):
            rows = rows_with(rows, column, wanted) if wanted else rows
    except ValueError as err:
        raise ValueError(f"{err}")
    domain = domains.pop()
    print_tables(checkpoint_table(rows, domain), phase_table(rows, args.exploration_episodes), learning_table(rows))
    for method, errors in checkpoint_errors(rows, domain).items():
        print(
            f"{method:8s} standard error over its task x seed runs: "
            + "  ".join(f"ep {e}: {v:.3f}" for e, v in errors.items())
        )
    for method, blocks in (block_table(rows, args.block) if args.block else {}).items():
        print(f"{method:8s} per {args.block} episodes: " + "  ".join(f"{span}: {v:.3f}" for span, v in blocks.items()))
    png = Path(args.png) if args.png else Path(args.csv[0]).with_name("learning_curves.png")
    print(f"curves: {plot_curves(rows, png, args.exploration_episodes, return_label(domain))}")
    if args.record_in:
        from simpl_core.experiments.harness import record_target_learning

        print(f"recorded in {record_target_learning(args.record_in, Path(args.csv[0]).parent)}")
    return 0


def run_task_inference(args) -> int:
    import json

    import torch

    from simpl_core.export.meta import load_bundle_meta
    from simpl_core.meta.adapt import TargetConfig
    from simpl_core.meta.simpl import load_meta_run
    from simpl_core.meta.task_inference import format_report, task_inference
    from simpl_core.rl.levels import action_level
    from simpl_core.tasks import resolve_tasks

    torch.set_num_threads(1)
    simpl = load_meta_run(args.meta_run, args.bundle)[0] if args.meta_run else load_bundle_meta(args.bundle)[0]
    domain = simpl.cfg.domain
    task_set = resolve_tasks(args.tasks or f"{domain}-target-10")
    if task_set.domain != domain:
        raise ValueError(f"task set {task_set.name} is {task_set.domain}, the meta-training {domain}")
    report = task_inference(
        simpl,
        action_level(simpl.cfg.actions, args.bundle),
        list(task_set.tasks),
        args.exploration_episodes,
        args.episodes,
        TargetConfig.for_domain(domain).horizon,
        args.seed,
        args.e_star_sets,
    )
    print(format_report(report))
    out = Path(args.out or f"runs/task_inference_{domain}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "command_line": args.command_line,
                "bundle": args.bundle,
                "meta_run": args.meta_run,
                "tasks": task_set.name,
                **report,
            },
            indent=1,
        )
    )
    print(f"report: {out}")
    return 0


def run_reproduce(args) -> int:
    from simpl_core.experiments.harness import reproduce

    report = reproduce(args.bundle, args.out, args.first_seed, args.workers, command=args.command_line)
    for checkpoint, check in report["checkpoints"].items():
        verdict = "reproduced" if check["reproduced"] else "NOT reproduced"
        print(
            f"episode {checkpoint}: recorded {check['recorded']:.3f}, measured {check['measured']:.3f} "
            f"(tolerance {check['tolerance']:.3f}): {verdict}"
        )
    print(f"report: {args.out}/reproduce.json")
    return 0 if report["reproduced"] else 1


def print_tables(checkpoints: dict, phases: dict, learning: dict) -> None:
    for method in checkpoints:
        points = "  ".join(f"ep {e}: {v:.3f}" for e, v in checkpoints[method].items())
        spans = "  ".join(f"{span}: {v:.3f}" for span, v in phases[method].items())
        print(f"{method:8s} {points}   mean over {spans}")
    for method, values in learning.items():
        print(f"{method:8s} learning: " + "  ".join(f"{key} {value:g}" for key, value in values.items()))
