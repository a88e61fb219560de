"""`simpl skills {train,export,eval-prior,eval-skills}`: phase 1 (skills), from data to an ONNX bundle."""

from __future__ import annotations

import json

from simpl_core.cli.grammar import add_group, add_show_config, add_verb


def add_parser(commands) -> None:
    verbs = add_group(commands, "skills", help="phase 1: learn skills and a skill prior, export them, evaluate them")
    train = add_verb(
        verbs,
        "train",
        run_train,
        help="learn skills and a skill prior from offline data (closed-loop SPiRL)",
        description="Train the skill encoder, closed-loop decoder and skill prior on K-step windows of an offline "
        "dataset. Writes metrics.jsonl, checkpoint.pt, loss_curve.png and summary.json to --out; "
        "an interrupted run continues with --resume.",
    )
    train.add_argument("--config", required=True, help="YAML of hyper-parameters, e.g. config/skills_maze.yaml")
    train.add_argument("--dataset", required=True, help="dataset directory or Minari id")
    train.add_argument("--out", required=True, help="run directory, e.g. runs/skills_maze")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    train.add_argument("--steps", type=int, help="override the config's number of gradient steps")
    train.add_argument(
        "--threads",
        type=int,
        help="override the config's torch threads (1 each lets two runs "
        "share 2 cores; two runs of 2 threads each stall each other)",
    )
    train.add_argument(
        "--init-from",
        metavar="BUNDLE",
        help="override the config's init_from: start from this bundle's skill weights (e.g. a run exported earlier)",
    )

    export = add_verb(
        verbs,
        "export",
        run_export,
        help="export a trained skill run to an ONNX policy bundle",
        description="Write skill_decoder.onnx (state, z -> action) and skill_prior.onnx (state -> mean, log_std) "
        "plus manifest.yaml (dims, skill horizon, control rate, action bounds, names, sha256 of every "
        "file, provenance) into --out. `simpl meta export` then adds a meta-training run over those "
        "skills.",
    )
    export.add_argument("run_dir", metavar="RUN", help="skill run directory (from `simpl skills train`)")
    export.add_argument("--out", required=True, help="bundle directory, e.g. models/maze")

    evaluate = add_verb(
        verbs,
        "eval-prior",
        run_eval_prior,
        help="roll out the skill prior alone and report where it goes",
        description="Run the frozen skill prior as the high-level policy (z ~ p(z|s) every K steps, decoded "
        "closed-loop) from the task start, task-agnostic. Maze: report coverage and how often the goals "
        "of each task set are reached, and draw the trajectories to a PNG. Kitchen: report how often "
        "each subtask gets done and the commonest completion orders.",
    )
    evaluate.add_argument("--bundle", required=True, help="policy bundle directory, e.g. models/maze")
    evaluate.add_argument("--episodes", type=int, default=100, help="episodes, all stepped together (default 100)")
    evaluate.add_argument(
        "--steps", type=int, help="env steps per episode (default: the domain's horizon, maze 2000, kitchen 280)"
    )
    evaluate.add_argument("--out", help="write report.json and prior_rollouts.png here (default: the bundle)")
    evaluate.add_argument("--seed", type=int, default=0)

    replay = add_verb(
        verbs,
        "eval-skills",
        run_eval_skills,
        help="replay kitchen demonstrations through the skills, closed-loop (can they express them?)",
        description="Kitchen: replay demonstration episodes in the sim closed-loop through the trained skill "
        "autoencoder (every K steps z = the posterior mean of the demonstration's next K steps, decoded "
        "from the sim's actual state), and, as a control, their executed actions open-loop, both from the "
        "demonstration's start state; report per subtask in how many episodes the demonstration, the "
        "open-loop replay and the skill replay complete it, and the arm's gap after K steps of "
        "per-window replays. Use demonstrations the skills did not train on (e.g. "
        "datasets/kitchen-teleop-heldout-v1, recorded with another seed).",
    )
    replay.add_argument(
        "--skills", required=True, help="skill run directory (from `simpl skills train`), e.g. runs/skills_kitchen"
    )
    replay.add_argument("--dataset", required=True, help="kitchen dataset directory or Minari id")
    replay.add_argument(
        "--episodes", type=int, default=50, help="demonstrations, drawn at random and replayed together (default 50)"
    )
    replay.add_argument("--seed", type=int, default=0)
    replay.add_argument("--out", help="JSON report (default SKILLS/replay_report.json)")

    add_show_config(verbs, "skill-training", "config/skills_kitchen_v1.yaml", describe_skill_config)


def describe_skill_config(path: str) -> str:
    import dataclasses

    from simpl_core.runs import describe_config, field_defaults
    from simpl_core.skills.model import SkillModelConfig
    from simpl_core.skills.train import SkillTrainConfig

    cfg = SkillTrainConfig.from_yaml(path)
    model = {**field_defaults(SkillModelConfig), **cfg.model}
    return (
        describe_config(SkillTrainConfig, {k: v for k, v in dataclasses.asdict(cfg).items() if k != "model"})
        + "\n\nmodel:\n"
        + describe_config(SkillModelConfig, model)
    )


def run_train(args) -> int:
    from simpl_core.skills.train import SkillTrainConfig, train_skills

    cfg = SkillTrainConfig.from_yaml(args.config)
    if args.steps is not None:
        cfg.steps = args.steps
    if args.threads is not None:
        cfg.threads = args.threads
    if args.init_from is not None:
        cfg.init_from = args.init_from
    summary = train_skills(cfg, args.dataset, args.out, resume=args.resume)
    print(json.dumps(summary, indent=2))
    return 0


def run_export(args) -> int:
    from simpl_core.export.skills import export_skills

    print(f"wrote {export_skills(args.run_dir, args.out, command=args.command_line)}")
    return 0


def run_eval_skills(args) -> int:
    from pathlib import Path

    import numpy as np

    from simpl_core.data.inspect import dataset_domain
    from simpl_core.data.minari_io import load_dataset
    from simpl_core.skills.replay import format_report, replay_kitchen, replay_report, window_replay_error
    from simpl_core.skills.train import load_skill_model

    dataset = load_dataset(args.dataset)
    if dataset_domain(dataset) != "kitchen":
        raise ValueError(f"{args.dataset} is not a kitchen dataset: eval-skills replays kitchen subtasks")
    model, _ = load_skill_model(args.skills)
    if args.episodes < 1:
        raise ValueError("--episodes must be at least 1")
    picked = np.random.default_rng(args.seed).choice(
        dataset.num_episodes, min(args.episodes, dataset.num_episodes), replace=False
    )
    episodes = [dataset.episodes[i] for i in sorted(picked)]
    report = {
        **replay_report(episodes, replay_kitchen(model, episodes, args.seed)),
        "window_replay": window_replay_error(model, episodes, windows=256, seed=args.seed),
    }
    print(format_report(report))
    print(
        "per-window replay (sim reset to the demonstration's state at a window start), arm gap after "
        f"{model.cfg.horizon} steps: skills {report['window_replay']['skill_window_gap_rad']} rad, executed "
        f"actions {report['window_replay']['executed_window_gap_rad']} rad, stored labels "
        f"{report['window_replay']['label_window_gap_rad']} rad (corrective labels: the noise they corrected)"
    )
    out = Path(args.out or Path(args.skills) / "replay_report.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "command_line": args.command_line,
                "dataset": str(args.dataset),
                "dataset_episodes": [int(i) for i in sorted(picked)],
                **report,
            },
            indent=1,
        )
    )
    print(f"report: {out}")
    return 0


def run_eval_prior(args) -> int:
    from pathlib import Path

    from simpl_core.data.inspect import plot_maze_trajectories
    from simpl_core.envs.domains import domain
    from simpl_core.envs.maze.layout import MazeLayout
    from simpl_core.export.skills import load_bundle_for_env
    from simpl_core.skills.eval_prior import kitchen_prior_report, maze_prior_report, rollout_prior
    from simpl_core.tasks import resolve_tasks

    bundle = load_bundle_for_env(args.bundle)
    spec = domain(bundle.manifest["domain"])
    steps = args.steps or spec.horizon
    rollouts = rollout_prior(bundle, args.episodes, steps, args.seed)
    out = Path(args.out or args.bundle)
    out.mkdir(parents=True, exist_ok=True)
    if spec.name == "kitchen":
        report = kitchen_prior_report(rollouts)
        (out / "prior_report.json").write_text(json.dumps(report, indent=2))
        print(json.dumps(report, indent=2))
        print(f"report: {out / 'prior_report.json'}")
        return 0
    report = maze_prior_report(rollouts, MazeLayout.load())
    (out / "prior_report.json").write_text(json.dumps(report, indent=2))
    goals = {name: [t.goal for t in resolve_tasks(name).tasks] for name in ("maze-train-40", "maze-target-10")}
    png = plot_maze_trajectories(
        list(rollouts.trajectories[:60]),
        out / "prior_rollouts.png",
        f"skill prior alone: {min(60, args.episodes)} of {args.episodes} episodes, {steps} steps",
        goals=goals,
    )
    print(json.dumps(report, indent=2))
    print(f"report: {out / 'prior_report.json'}   trajectories: {png}")
    return 0
