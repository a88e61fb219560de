"""`simpl meta-train`: phase 2, SiMPL meta-training over the skills of a bundle on a task set."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def add_parser(commands) -> None:
    train = commands.add_parser(
        "meta-train", help="SiMPL meta-training on a set of tasks (or the PEARL baseline)",
        description="Meta-train the task encoder, the skill-prior-residual high-level policy and the critics on a "
                    "task set, over the frozen skills of a policy bundle. Writes metrics.jsonl (per iteration: "
                    "returns, KLs, coefficients, losses, env steps/s) and checkpoint.pt to --out; continue an "
                    "interrupted run with --resume. Baselines come from the same command: `actions: primitive` "
                    "(config/pearl_maze_cpu.yaml) trains PEARL, the same algorithm on primitive actions without "
                    "skills; `task_conditioning: task_id` (config/mtrl_maze_cpu.yaml) trains MTRL, one "
                    "skill policy told the task id instead of inferring it.")
    train.add_argument("--config", required=True, help="YAML, e.g. config/simpl_maze_cpu.yaml")
    train.add_argument("--bundle", required=True, help="bundle with the skills, e.g. models/maze")
    train.add_argument("--tasks", required=True, help="task set name (e.g. maze-train-40) or YAML file[:SET]")
    train.add_argument("--out", required=True, help="run directory, e.g. runs/simpl_maze")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    train.add_argument("--iterations", type=int, help="override the config's number of iterations")
    train.add_argument("--threads", type=int,
                       help="override the config's torch threads (1 lets two runs share 2 cores without contention)")
    train.set_defaults(run=run_meta_train)

    report = commands.add_parser(
        "meta-report", help="a meta-training run's metrics, averaged over blocks of iterations",
        description="Read RUN/metrics.jsonl and print, per block of iterations, the mean return of the episodes "
                    "conditioned on e ~ q(e | c) and on e ~ p(e), the encoder and policy KLs on large contexts and "
                    "the seconds per iteration; then the run's totals (iterations, env steps, wall-clock).")
    report.add_argument("run_dir", metavar="RUN", help="meta-training run directory, e.g. runs/simpl_kitchen")
    report.add_argument("--block", type=int, default=50, help="iterations per block (default 50)")
    report.set_defaults(run=run_meta_report)

    adapt = commands.add_parser(
        "adapt", help="SiMPL target-task learning: explore, encode, fine-tune; the return of every episode",
        description="For each target task independently: 20 episodes conditioned on e ~ p(e), then e* = posterior "
                    "mean of the task encoder on them, then prior-regularised SAC conditioned on e*. Writes "
                    "returns.csv (one row per episode) and learning_curves.png to --out.")
    adapt.add_argument("--bundle", required=True, help="meta-trained bundle, e.g. models/maze")
    adapt.add_argument("--tasks", required=True, help="task set name (e.g. maze-target-10) or YAML file[:SET]")
    adapt.add_argument("--episodes", type=int, default=100, help="episodes per task, exploration included")
    adapt.add_argument("--seeds", type=int, default=1, help="independent runs per task")
    adapt.add_argument("--first-seed", type=int, default=0, help=FIRST_SEED_HELP)
    adapt.add_argument("--out", required=True, help="output directory, e.g. runs/adapt_maze")
    adapt.add_argument("--workers", type=int, default=2, help="processes sharing the learners (default 2)")
    adapt.set_defaults(run=run_adapt, methods="simpl")


def run_meta_train(args) -> int:
    from simpl_core.meta.config import SimplConfig
    from simpl_core.meta.simpl import meta_train

    cfg = SimplConfig.from_yaml(args.config)
    if args.iterations is not None:
        cfg.iterations = args.iterations
    if args.threads is not None:
        cfg.threads = args.threads
    rows = meta_train(cfg, args.bundle, args.tasks, args.out, resume=args.resume)
    last = rows[-1]
    print(f"iteration {last['iteration']}: posterior-conditioned success {last['posterior_return']:.2f}, "
          f"prior-conditioned {last['prior_return']:.2f}, {last['env_steps']} env steps")
    return 0


REPORTED = {"posterior_return": "return, e ~ q(e \\| c)", "prior_return": "return, e ~ p(e)",
            "encoder_kl_large": "encoder KL, large contexts", "encoder_kl_small": "encoder KL, small contexts",
            "policy_kl_large": "policy KL to the prior, large", "policy_kl_small": "policy KL to the prior, small",
            "rewarded_context_share": "large contexts holding a reward", "iteration_s": "seconds per iteration"}
# the KL coefficients only grow: their value at each block's end says more than a mean
COEFFICIENTS = {"lambda_small": "λ small (end of block)", "lambda_large_mean": "λ large, mean over tasks (end)",
                "beta_small": "β small (end)", "beta_large": "β large (end)"}


def run_meta_report(args) -> int:
    from simpl_core.runs import read_metrics

    rows = read_metrics(Path(args.run_dir))
    if not rows:
        print(f"{args.run_dir}: no metrics.jsonl rows", file=sys.stderr)
        return 2
    blocks = [rows[i:i + args.block] for i in range(0, len(rows), args.block)]
    print("| iterations | " + " | ".join(f"{b[0]['iteration']}–{b[-1]['iteration']}" for b in blocks) + " |")
    print("|---|" + "---|" * len(blocks))
    for key, label in REPORTED.items():
        if key not in rows[-1]:  # runs older than the metric
            continue
        print(f"| {label} | " + " | ".join(f"{np.mean([r[key] for r in b]):.2f}" for b in blocks) + " |")
    for key, label in COEFFICIENTS.items():
        print(f"| {label} | " + " | ".join(f"{b[-1][key]:.2g}" for b in blocks) + " |")
    print(f"{rows[-1]['iteration']} iterations, {rows[-1]['env_steps']} env steps, "
          f"{sum(r['iteration_s'] for r in rows):.0f} s of iterations")
    return 0


FIRST_SEED_HELP = ("seeds are FIRST_SEED, FIRST_SEED+1, ... (default 0): run seeds in separate runs, e.g. one per "
                   "session, and read them together with `simpl bench curves A/returns.csv B/returns.csv`")


def run_adapt(args) -> int:
    from simpl_core.meta.adapt import TargetConfig
    from simpl_core.meta.benchmark import sample_efficiency
    from simpl_core.tasks import resolve_tasks

    from simpl_core.runtime.bundle import PolicyBundle

    domain = PolicyBundle.read_manifest(Path(args.bundle))["domain"]  # the protocol's values follow the bundle
    result = sample_efficiency(args.methods.split(","), args.bundle, resolve_tasks(args.tasks),
                               TargetConfig.for_domain(domain, episodes=args.episodes), args.seeds, args.out,
                               workers=args.workers,
                               runs={kind: getattr(args, f"{kind}_run", None) for kind in ("simpl", "pearl", "mtrl")},
                               command=args.command_line, first_seed=args.first_seed)
    print(f"returns: {result['csv']}   curves: {result['png']}")
    print_tables(result["checkpoints"], result["phases"], result["learning"])
    return 0


def print_tables(checkpoints: dict, phases: dict, learning: dict) -> None:
    for method in checkpoints:
        points = "  ".join(f"ep {e}: {v:.3f}" for e, v in checkpoints[method].items())
        spans = "  ".join(f"{span}: {v:.3f}" for span, v in phases[method].items())
        print(f"{method:8s} {points}   mean over {spans}")
    for method, values in learning.items():
        print(f"{method:8s} learning: " + "  ".join(f"{key} {value:g}" for key, value in values.items()))
