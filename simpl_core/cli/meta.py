"""`simpl meta {train,export,report}`: phase 2, SiMPL meta-training over the skills of a bundle on a task set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from simpl_core.cli.grammar import add_group, add_show_config, add_verb


def add_parser(commands) -> None:
    verbs = add_group(commands, "meta", help="phase 2: meta-train SiMPL (or a baseline) over a bundle's skills")
    train = add_verb(
        verbs,
        "train",
        run_meta_train,
        help="SiMPL meta-training on a set of tasks (or the PEARL/MTRL baselines)",
        description="Meta-train the task encoder, the skill-prior-residual high-level policy and the critics on a "
        "task set, over the frozen skills of a policy bundle. Writes metrics.jsonl (per iteration: "
        "returns, KLs, coefficients, losses, env steps/s) and checkpoint.pt to --out; continue an "
        "interrupted run with --resume. Baselines come from the same command: `actions: primitive` "
        "(config/pearl_maze_cpu.yaml) trains PEARL, the same algorithm on primitive actions without "
        "skills; `task_conditioning: task_id` (config/mtrl_maze_cpu.yaml) trains MTRL, one "
        "skill policy told the task id instead of inferring it.",
    )
    train.add_argument("--config", required=True, help="YAML, e.g. config/simpl_maze_cpu.yaml")
    train.add_argument("--bundle", required=True, help="bundle with the skills, e.g. models/maze")
    train.add_argument("--tasks", required=True, help="task set name (e.g. maze-train-40) or YAML file[:SET]")
    train.add_argument("--out", required=True, help="run directory, e.g. runs/simpl_maze")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    train.add_argument("--iterations", type=int, help="override the config's number of iterations")
    train.add_argument(
        "--init-from",
        help="override the config's init_from: start from this meta-trained bundle's weights (e.g. models/kitchen, "
        "to continue its meta-training in a new run); the buffers start empty",
    )
    train.add_argument(
        "--threads",
        type=int,
        help="override the config's torch threads (1 lets two runs share 2 cores without contention)",
    )

    export = add_verb(
        verbs,
        "export",
        run_meta_export,
        help="add a meta-training run to the bundle of its skills",
        description="Write high_level_policy.onnx (state, e -> mean, log_std) and task_encoder.onnx (context of "
        "any size -> mean, std) into the bundle the run was meta-trained on, and record them in its "
        "manifest.",
    )
    export.add_argument("run_dir", metavar="RUN", help="meta-training run directory (from `simpl meta train`)")
    export.add_argument("--out", required=True, help="bundle directory holding the run's skills, e.g. models/maze")

    report = add_verb(
        verbs,
        "report",
        run_meta_report,
        help="a meta-training run's metrics, averaged over blocks of iterations",
        description="Read RUN/metrics.jsonl and print, per block of iterations, the mean return of the episodes "
        "conditioned on e ~ q(e | c) and on e ~ p(e), the encoder and policy KLs on large contexts and "
        "the seconds per iteration; the q(e | c) return split by whether the context held a reward; then the "
        "run's totals (iterations, env steps, wall-clock) and, per training task, the mean return over the last "
        "block.",
    )
    report.add_argument("run_dir", metavar="RUN", help="meta-training run directory, e.g. runs/simpl_kitchen")
    report.add_argument("--block", type=int, default=50, help="iterations per block (default 50)")

    add_show_config(verbs, "meta-training", "config/simpl_kitchen_cpu.yaml", describe_meta_config)


def describe_meta_config(path: str) -> str:
    import dataclasses

    from simpl_core.meta.config import SimplConfig
    from simpl_core.runs import describe_config

    return describe_config(SimplConfig, dataclasses.asdict(SimplConfig.from_yaml(path)))


def run_meta_train(args) -> int:
    from simpl_core.meta.config import SimplConfig
    from simpl_core.meta.simpl import meta_train

    cfg = SimplConfig.from_yaml(args.config)
    if args.iterations is not None:
        cfg.iterations = args.iterations
    if args.threads is not None:
        cfg.threads = args.threads
    if args.init_from is not None:
        cfg.init_from = args.init_from
    rows = meta_train(cfg, args.bundle, args.tasks, args.out, resume=args.resume)
    last = rows[-1]
    print(
        f"iteration {last['iteration']}: posterior-conditioned success {last['posterior_return']:.2f}, "
        f"prior-conditioned {last['prior_return']:.2f}, {last['env_steps']} env steps"
    )
    return 0


REPORTED = {
    "posterior_return": "return, e ~ q(e \\| c)",
    "prior_return": "return, e ~ p(e)",
    "encoder_kl_large": "encoder KL, large contexts",
    "encoder_kl_small": "encoder KL, small contexts",
    "policy_kl_large": "policy KL to the prior, large",
    "policy_kl_small": "policy KL to the prior, small",
    "rewarded_context_share": "large contexts holding a reward",
    "posterior_return_rewarded_context": "return, e ~ q(e \\| c), c holds a reward",
    "posterior_return_blank_context": "return, e ~ q(e \\| c), c holds none",
    "iteration_s": "seconds per iteration",
}
# the KL coefficients only grow: their value at each block's end says more than a mean
COEFFICIENTS = {
    "lambda_small": "λ small (end of block)",
    "lambda_large_mean": "λ large, mean over tasks (end)",
    "beta_small": "β small (end)",
    "beta_large": "β large (end)",
}


def run_meta_export(args) -> int:
    from simpl_core.export.meta import export_meta

    print(f"wrote {export_meta(args.run_dir, args.out, command=args.command_line)}")
    return 0


def run_meta_report(args) -> int:
    from simpl_core.runs import read_metrics

    rows = read_metrics(Path(args.run_dir))
    if not rows:
        raise ValueError(f"{args.run_dir}: no metrics.jsonl rows")
    blocks = [rows[i : i + args.block] for i in range(0, len(rows), args.block)]
    print("| iterations | " + " | ".join(f"{b[0]['iteration']}–{b[-1]['iteration']}" for b in blocks) + " |")
    print("|---|" + "---|" * len(blocks))
    for key, label in REPORTED.items():
        if key not in rows[-1]:  # runs older than the metric
            continue
        print(f"| {label} | " + " | ".join(block_mean(b, key) for b in blocks) + " |")
    if "rewarded_contexts" in rows[-1]:
        print(f"| {WITHIN_TASK_GAP} | " + " | ".join(within_task_gap(b) for b in blocks) + " |")
    for key, label in COEFFICIENTS.items():
        print(f"| {label} | " + " | ".join(f"{b[-1][key]:.2g}" for b in blocks) + " |")
    print(
        f"{rows[-1]['iteration']} iterations, {rows[-1]['env_steps']} env steps, "
        f"{sum(r['iteration_s'] for r in rows):.0f} s of iterations"
    )
    if "posterior_returns" in rows[-1]:
        print_per_task_returns(Path(args.run_dir), blocks[-1])
    return 0


def block_mean(block: list[dict], key: str) -> str:
    """A metric's mean over a block, "–" where no iteration had a value (e.g. no blank context at all)."""
    values = [r[key] for r in block if r[key] is not None]
    return f"{np.mean(values):.2f}" if values else "–"


WITHIN_TASK_GAP = "reward − none, within a task (tasks with both)"


def within_task_gap(block: list[dict]) -> str:
    """Return after a rewarded context minus after a blank one, per task, averaged over the tasks that had both in
    the block: the split without easy tasks (whose buffers hold rewards most) weighing on the rewarded side."""
    returns = np.array([r["posterior_returns"] for r in block])
    rewarded = np.array([r["rewarded_contexts"] for r in block], bool)
    gaps = [
        returns[rewarded[:, t], t].mean() - returns[~rewarded[:, t], t].mean()
        for t in range(returns.shape[1])
        if rewarded[:, t].any() and not rewarded[:, t].all()
    ]
    return f"{np.mean(gaps):+.2f} ({len(gaps)})" if gaps else "–"


def print_per_task_returns(run_dir: Path, block: list[dict]) -> None:
    """Per training task, the mean return over a block with e ~ q(e | c) and with e ~ p(e)."""
    from simpl_core.tasks import resolve_tasks

    tasks = resolve_tasks(json.loads((run_dir / "run.json").read_text())["tasks"])
    posterior = np.mean([r["posterior_returns"] for r in block], axis=0)
    prior = np.mean([r["prior_returns"] for r in block], axis=0)
    print(f"\nper training task, iterations {block[0]['iteration']}–{block[-1]['iteration']}:\n")
    print("| task | return, e ~ q(e \\| c) | return, e ~ p(e) |\n|---|---|---|")
    for index, task in enumerate(tasks.tasks):
        print(f"| {index}: {task.name} | {posterior[index]:.2f} | {prior[index]:.2f} |")
