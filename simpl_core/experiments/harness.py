"""The paper's protocol: target-task learning of several methods on every target task with several seeds, in one
harness and budget, run by a process pool; the re-measurement of a bundle's recorded numbers (reproduce) and their
record in its manifest. Writes one CSV of per-episode returns and a learning-curve PNG."""

from __future__ import annotations

import copy
import dataclasses
import json
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from queue import Empty

import numpy as np
import torch
from tqdm import tqdm

from simpl_core.experiments.plots import plot_curves, return_label
from simpl_core.experiments.results import (
    PartialCsv,
    checkpoint_runs,
    checkpoint_table,
    learning_table,
    phase_table,
    read_csv,
    standard_error,
    write_csv,
)
from simpl_core.export.meta import load_bundle_meta
from simpl_core.meta.adapt import MetaLearner, ScratchLearner, TargetConfig, run_target_learning
from simpl_core.meta.simpl import load_meta_run
from simpl_core.rl.levels import action_level
from simpl_core.runs import CHECKPOINT
from simpl_core.runtime.bundle import META_WEIGHTS, SKILL_WEIGHTS, BundleError, PolicyBundle, seal
from simpl_core.tasks import resolve_tasks

METHOD_LEVELS = {
    "simpl": "skills",
    "spirl": "skills",
    "mtrl": "skills",
    "sac": "primitive",
    "pearl": "primitive",
    "pearl-ft": "primitive",
}
# method -> the kind of meta-training run it reads; SiMPL's is optional (default: the bundle's meta-training)
META_RUNS = {"simpl": "simpl", "pearl": "pearl", "pearl-ft": "pearl", "mtrl": "mtrl"}
METHODS = tuple(METHOD_LEVELS)


def check_methods(methods, runs: dict | None) -> None:
    """Refuse unknown methods, and missing meta-training runs (runs: "simpl" / "pearl" / "mtrl" -> run dir)."""
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; available: {', '.join(METHODS)}")
    for method in methods:
        kind = META_RUNS.get(method)
        run = (runs or {}).get(kind)
        needed = kind is not None and (run is not None or kind != "simpl")  # SiMPL falls back on the bundle
        if needed and not (run and (Path(run) / CHECKPOINT).is_file()):
            raise ValueError(
                f"{method} needs a {kind.upper()} meta-training run (--{kind}-run), none at {run}; "
                f"make one with `simpl meta train --config config/{kind}_maze_cpu.yaml ...`"
            )


def meta_models(methods, bundle_dir, runs: dict | None) -> dict:
    """kind -> the meta-trained Simpl module each meta-learning method starts from."""
    models = {}
    for kind in {META_RUNS[m] for m in methods if m in META_RUNS}:
        run = (runs or {}).get(kind)
        models[kind] = load_meta_run(run, bundle_dir)[0] if run else load_bundle_meta(bundle_dir)[0]
    return models


def build_learners(
    specs: list[tuple[str, int, int]], level_name: str, bundle_dir, tasks, cfg: TargetConfig, runs: dict | None = None
):
    """One learner per (method, task index, seed), all on one action level over the skills of one bundle."""
    methods = {method for method, _, _ in specs}
    check_methods(methods, runs)
    level = action_level(level_name, bundle_dir)
    meta = meta_models(methods, bundle_dir, runs)

    def learner(method: str, task: int, seed: int):
        if method in META_RUNS:
            return MetaLearner(
                method,
                copy.deepcopy(meta[META_RUNS[method]]),
                level,
                tasks[task],
                seed,
                cfg,
                fine_tune=method != "pearl",
            )
        sac_cfg = cfg.spirl_sac if method == "spirl" else cfg.sac_sac
        return ScratchLearner(method, level, sac_cfg, tasks[task], seed, cfg)

    return [learner(*spec) for spec in specs], level


def level_groups(specs) -> dict[str, list]:
    groups: dict[str, list] = {}
    for spec in specs:
        groups.setdefault(METHOD_LEVELS[spec[0]], []).append(spec)
    return groups


def run_specs(specs, bundle_dir, tasks, cfg: TargetConfig, progress_queue=None, runs=None) -> list[dict]:
    """Target learning for a group of learners in one process (a worker of `sample_efficiency`), one action level
    after the other."""
    torch.set_num_threads(1)
    report = (lambda done, latest: progress_queue.put(latest)) if progress_queue is not None else None
    rows = []
    for level_name, group in level_groups(specs).items():
        learners, level = build_learners(group, level_name, bundle_dir, tasks, cfg, runs)
        rows += run_target_learning(learners, level, cfg, report)
    return rows


def exit_with_parent(parent_pid: int) -> None:
    """A pool worker's initializer: stop when the parent process is gone. A SIGTERM or SIGKILL of the parent skips
    the pool's shutdown, and its workers would go on learning for nobody, taking the cores."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def sample_efficiency(
    methods,
    bundle_dir,
    task_set,
    cfg: TargetConfig,
    seeds: int,
    out_dir,
    workers: int = 1,
    progress: bool = True,
    runs: dict | None = None,
    command: str | None = None,
    first_seed: int = 0,
) -> dict:
    """Run the methods on every task of `task_set` with seeds first_seed, ..., first_seed + seeds - 1, learners
    spread over `workers` processes;
    write returns.csv, learning_curves.png and run.json (the protocol and where the models came from). `runs` names
    meta-training runs ("pearl", "mtrl"; "simpl" to use a run instead of the bundle's meta-training, e.g. for the
    task-distribution studies)."""
    check_methods(methods, runs)
    started = time.perf_counter()
    specs = [
        (method, task, seed)
        for method in methods
        for task in range(len(task_set))
        for seed in range(first_seed, first_seed + seeds)
    ]
    groups = [specs[i::workers] for i in range(workers) if specs[i::workers]]
    manifest = PolicyBundle.read_manifest(Path(bundle_dir))  # the workers load the weights
    waves = cfg.episodes * sum(len(level_groups(group)) for group in groups)
    bar = tqdm(total=waves, desc="target learning", unit="wave", disable=not progress)
    out_dir = Path(out_dir)
    partial = PartialCsv(out_dir / "returns.partial.csv")  # a run cut short keeps the episodes it measured
    with (
        multiprocessing.get_context("spawn").Manager() as manager,
        ProcessPoolExecutor(
            max_workers=len(groups),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=exit_with_parent,
            initargs=(os.getpid(),),
        ) as pool,
    ):
        queue = manager.Queue()
        futures = [pool.submit(run_specs, group, bundle_dir, task_set.tasks, cfg, queue, runs) for group in groups]
        while not all(f.done() for f in futures):
            try:
                latest = queue.get(timeout=0.5)
            except Empty:
                continue
            partial.append(latest)
            bar.update(1)
            bar.set_postfix(
                {
                    m: f"{np.mean([r['return'] for r in latest if r['method'] == m]):.2f}"
                    for m in dict.fromkeys(r["method"] for r in latest)
                }
            )
        rows = [row for future in futures for row in future.result()]
    bar.close()
    rows.sort(key=lambda r: (METHODS.index(r["method"]), r["task"], r["seed"], r["episode"]))
    csv_path = write_csv(rows, out_dir / "returns.csv")
    partial.path.unlink(missing_ok=True)
    png = plot_curves(rows, out_dir / "learning_curves.png", cfg.exploration_episodes, return_label(manifest["domain"]))
    kinds = {META_RUNS.get(method) for method in methods}
    used_runs = {kind: str(run) for kind, run in (runs or {}).items() if run and kind in kinds}
    (out_dir / "run.json").write_text(
        json.dumps(
            {
                "command": command,
                "domain": manifest["domain"],
                "bundle": str(bundle_dir),
                "meta_weights_sha256": manifest["files"].get(META_WEIGHTS),
                "runs": used_runs,
                "tasks": task_set.name,
                "methods": list(methods),
                "seeds": seeds,
                "first_seed": first_seed,
                "episodes": cfg.episodes,
                "target_config": dataclasses.asdict(cfg),
                "wall_clock_s": round(time.perf_counter() - started, 1),
            },
            indent=2,
        )
    )
    return {
        "csv": str(csv_path),
        "png": str(png),
        "checkpoints": checkpoint_table(rows, manifest["domain"]),
        "phases": phase_table(rows, cfg.exploration_episodes),
        "learning": learning_table(rows),
    }


def reproduce(
    bundle_dir,
    out_dir,
    first_seed: int = 100,
    workers: int = 1,
    progress: bool = True,
    task_set=None,
    command: str | None = None,
) -> dict:
    """Re-run the SiMPL target learning recorded in the bundle's manifest (same tasks, protocol and number of
    seeds, fresh seeds) and compare each recorded checkpoint: reproduced when the two means differ by at most two
    standard errors of their difference (each estimated from this run's spread over its task x seed runs)."""
    manifest = PolicyBundle.read_manifest(Path(bundle_dir))
    recorded = manifest.get("provenance", {}).get("meta", {}).get("target_learning")
    if recorded is None:
        raise ValueError(
            f"{bundle_dir} records no target-learning results; record some with "
            "`simpl eval curves RUN/returns.csv --record-in BUNDLE`"
        )
    if first_seed < recorded.get("first_seed", 0) + recorded["seeds"]:
        raise ValueError(f"seeds from {first_seed} overlap the recorded run's; pass a larger first seed")
    cfg = TargetConfig(**recorded["target_config"])
    result = sample_efficiency(
        ["simpl"],
        bundle_dir,
        task_set or resolve_tasks(recorded["tasks"]),
        cfg,
        recorded["seeds"],
        out_dir,
        workers,
        progress,
        command=command,
        first_seed=first_seed,
    )
    measured = checkpoint_runs(read_csv(result["csv"]), manifest["domain"])["simpl"]
    checks = {}
    for checkpoint, old in recorded["success_at_checkpoints"].items():
        values = measured[int(checkpoint)]
        tolerance = 2 * np.sqrt(2) * standard_error(values)
        checks[int(checkpoint)] = {
            "recorded": old,
            "measured": round(float(values.mean()), 3),
            "tolerance": round(float(tolerance), 3),
            "reproduced": bool(abs(values.mean() - old) <= tolerance + 1e-9),
        }
    report = {
        "bundle": str(bundle_dir),
        "first_seed": first_seed,
        "checkpoints": checks,
        "reproduced": all(c["reproduced"] for c in checks.values()),
    }
    (Path(out_dir) / "reproduce.json").write_text(json.dumps(report, indent=2))
    return report


def record_target_learning(bundle_dir: str | Path, results_dir: str | Path) -> Path:
    """Write what a sample-efficiency run measured for this bundle's SiMPL (checkpoints, phases, the command) into
    the manifest, so the shipped numbers travel with the model and can be re-measured with that command."""
    bundle_dir, results_dir = Path(bundle_dir), Path(results_dir)
    manifest = PolicyBundle.load(bundle_dir).manifest
    if "meta" not in manifest["provenance"]:
        raise BundleError(f"{bundle_dir} holds skills only; there is no SiMPL policy to record results for")
    info = json.loads((results_dir / "run.json").read_text())
    if "simpl" in info["runs"] or info["meta_weights_sha256"] != manifest["files"].get(META_WEIGHTS):
        raise BundleError(f"{results_dir} did not adapt the meta-training that {bundle_dir} holds")
    rows = [r for r in read_csv(results_dir / "returns.csv") if r["method"] == "simpl"]
    if not rows:
        raise BundleError(f"{results_dir}/returns.csv has no SiMPL episodes")
    exploration = info["target_config"]["exploration_episodes"]
    manifest["provenance"]["meta"]["target_learning"] = {
        "command": info["command"],
        "tasks": info["tasks"],
        "seeds": info["seeds"],
        "first_seed": info.get("first_seed", 0),
        "episodes": info["episodes"],
        "target_config": info["target_config"],
        "success_at_checkpoints": checkpoint_table(rows, manifest["domain"])["simpl"],
        "mean_success": phase_table(rows, exploration)["simpl"],
    }
    return seal(bundle_dir, manifest, extra_files=(SKILL_WEIGHTS, META_WEIGHTS))
