"""`simpl bench`: throughput measurements on this machine (not tests; numbers for docs/measurements.md)."""

from __future__ import annotations

from simpl_core.cli.grammar import add_group, add_verb


def add_parser(commands) -> None:
    verbs = add_group(commands, "bench", help="measure throughput and the scripted teleoperator on this machine")
    env = add_verb(
        verbs,
        "env",
        run_env,
        help="env steps/s: raw mj_step vs single env vs batched env",
        description="Env steps per second on the same MuJoCo model: raw mujoco.mj_step (as many "
        "as one env step does: maze 1, kitchen 40), the single Gymnasium env "
        "(gymnasium.make, with wrappers) and the batched env, reported with ratios.",
    )
    env.add_argument("--domain", choices=["maze", "kitchen"], default="maze")
    env.add_argument("--steps", type=int, default=200_000, help="env steps per measurement (default 200000)")
    env.add_argument("--batch-sizes", default="16,64,256", help="comma-separated batched env sizes")
    env.add_argument("--seed", type=int, default=0)

    teleop = add_verb(
        verbs,
        "teleop",
        run_teleop,
        help="success of the scripted kitchen teleoperator per subtask and per sequence",
        description="Run the scripted teleoperator in the kitchen: each subtask alone, SiMPL's 33 task sequences, "
        "and random orders of 4 subtasks; print success per subtask, per position and per sequence, and "
        "write everything to --out as JSON.",
    )
    teleop.add_argument("--alone", type=int, default=20, help="episodes per subtask alone (default 20; 0 skips)")
    teleop.add_argument("--spec", type=int, default=5, help="episodes per SiMPL sequence (default 5; 0 skips)")
    teleop.add_argument("--random", type=int, default=20, help="episodes per random order (default 20; 0 skips)")
    teleop.add_argument("--orders", type=int, default=10, help="random orders of 4 subtasks (default 10)")
    teleop.add_argument("--max-steps", type=int, default=500, help="env steps per episode at most (default 500)")
    teleop.add_argument("--seed", type=int, default=0)
    teleop.add_argument("--out", default="runs/bench_teleop.json", help="JSON results (default runs/bench_teleop.json)")

    inference = add_verb(
        verbs,
        "inference",
        run_inference,
        help="single-sample latency of the skill graphs: torch eager vs onnxruntime",
        description="p50/p99/max latency of one decoder and one prior call, onnxruntime on the bundle and (with "
        "--skills) torch eager on the training checkpoint.",
    )
    inference.add_argument("--bundle", required=True, help="policy bundle directory, e.g. models/maze")
    inference.add_argument("--skills", help="skill run directory, to also time torch eager")
    inference.add_argument("--calls", type=int, default=10_000, help="timed calls per graph (default 10000)")

    update = add_verb(
        verbs,
        "meta-update",
        run_meta_update,
        help="seconds per meta-training gradient step of each config, side by side",
        description="Time SiMPL's gradient step (encoder, critics, policy, KL coefficients) for every config given, "
        "one after the other in one run on the same bundle, on buffers of synthetic transitions: what a "
        "config's network and batch sizes cost per step on this machine, apart from env collection.",
    )
    update.add_argument("configs", nargs="+", metavar="CONFIG", help="meta-training configs (YAML)")
    update.add_argument("--bundle", default="models/maze", help="bundle whose skill prior the policy uses")
    update.add_argument("--steps", type=int, default=20, help="timed gradient steps per config (default 20)")
    update.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2, as training)")


def run_env(args) -> int:
    from simpl_core.bench import env_speed

    sizes = tuple(int(s) for s in args.batch_sizes.split(","))
    print(env_speed.format_results(env_speed.run(args.domain, args.steps, sizes, args.seed)))
    return 0


def run_teleop(args) -> int:
    import json
    from pathlib import Path

    from simpl_core.bench import teleop

    episodes = {"alone": args.alone, "spec_sequences": args.spec, "random_orders": args.random}
    results = teleop.run(episodes, args.orders, args.seed, args.max_steps)
    print(teleop.format_results(results))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"command_line": args.command_line, **results}, indent=1))
    print(f"results in {out}")
    return 0


def run_inference(args) -> int:
    from simpl_core.bench import inference

    print(inference.format_results(inference.run(args.bundle, args.skills, args.calls)))
    return 0


def run_meta_update(args) -> int:
    from simpl_core.bench import meta_update

    if args.steps < 1:
        raise ValueError("--steps must be at least 1")
    print(meta_update.format_results(meta_update.run(args.configs, args.bundle, args.steps, args.threads)))
    return 0
