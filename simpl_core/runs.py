"""Plumbing shared by the training commands: configs from YAML, run directories, metrics files, checkpoints."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import torch
import yaml

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"


BASE_KEY = "base"


def read_config_keys(path: str | Path, _inheriting: tuple[Path, ...] = ()) -> dict:
    """The keys of a YAML config. `base: OTHER.yaml` (a path relative to this file) starts from OTHER's keys, so an
    experiment config states only what it changes."""
    path = Path(path).resolve()
    if path in _inheriting:
        raise ValueError(f"{path}: `{BASE_KEY}:` loops back through {[str(p) for p in _inheriting]}")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of config keys, got {type(raw).__name__}")
    base = raw.pop(BASE_KEY, None)
    if base is None:
        return raw
    return {**read_config_keys(path.parent / base, _inheriting + (path,)), **raw}


def config_from_yaml(cls, path: str | Path):
    """Fill the dataclass `cls` from a YAML file (see read_config_keys); unknown keys (typos) are refused."""
    raw = read_config_keys(path)
    unknown = set(raw) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    return cls(**raw)


def check_run_dir(run_dir: Path, resume: bool) -> None:
    if (run_dir / CHECKPOINT).exists() and not resume:
        raise ValueError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")


def save_checkpoint(state: dict, run_dir: Path) -> None:
    """Write checkpoint.pt through a temp file, so an interruption never leaves a half-written checkpoint."""
    tmp = run_dir / (CHECKPOINT + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, run_dir / CHECKPOINT)


def read_metrics(run_dir: Path) -> list[dict]:
    path = run_dir / METRICS
    return [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []


def truncate_metrics(run_dir: Path, key: str, last: int) -> None:
    """On resume, drop the rows logged after the checkpoint (they will be logged again)."""
    kept = [row for row in read_metrics(run_dir) if row[key] <= last]
    (run_dir / METRICS).write_text("".join(json.dumps(row) + "\n" for row in kept))
