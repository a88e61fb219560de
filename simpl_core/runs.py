"""Plumbing shared by the training commands: configs from YAML, run directories, metrics files, checkpoints."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import os
import textwrap
from pathlib import Path

import torch
import yaml

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"


BASE_KEY = "base"


def read_config_keys(path: str | Path, _inheriting: tuple[Path, ...] = ()) -> dict:
    """The keys of a YAML config. `base: OTHER.yaml` (a path relative to this file) starts from OTHER's keys (and
    from the keys of OTHER's sections), so an experiment config states only what it changes."""
    path = Path(path).resolve()
    if path in _inheriting:
        raise ValueError(f"{path}: `{BASE_KEY}:` loops back through {[str(p) for p in _inheriting]}")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of config keys, got {type(raw).__name__}")
    base = raw.pop(BASE_KEY, None)
    if base is None:
        return raw
    inherited = read_config_keys(path.parent / base, _inheriting + (path,))
    # a section (e.g. `model:`) changes only the keys it names
    return {
        **inherited,
        **{
            key: {**inherited[key], **value}
            if isinstance(value, dict) and isinstance(inherited.get(key), dict)
            else value
            for key, value in raw.items()
        },
    }


def config_from_yaml(cls, path: str | Path):
    """Fill the dataclass `cls` from a YAML file (see read_config_keys); unknown keys (typos) are refused."""
    raw = read_config_keys(path)
    unknown = set(raw) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    return cls(**raw)


def field_docs(cls) -> dict[str, str]:
    """Each field's doc: the string right below it in the dataclass (CleanRL's Args style). The dataclass is the one
    home of a hyper-parameter: its type, its default and this doc."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    return {
        field.target.id: " ".join(doc.value.value.split())
        for field, doc in zip(body, body[1:])
        if isinstance(field, ast.AnnAssign)
        and isinstance(field.target, ast.Name)
        and isinstance(doc, ast.Expr)
        and isinstance(doc.value, ast.Constant)
        and isinstance(doc.value.value, str)
    }


def field_defaults(cls) -> dict:
    return {
        f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
        for f in dataclasses.fields(cls)
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    }


def describe_config(cls, values: dict) -> str:
    """Every field of the config dataclass `cls` that `values` (field -> value) holds: its value, the default where
    the value differs from it, and its doc, as a Markdown table."""
    docs, defaults = field_docs(cls), field_defaults(cls)
    rows = ["| key | value | default | what it is |", "|---|---|---|---|"]
    for field in dataclasses.fields(cls):
        if field.name not in values:
            continue
        value, default = values[field.name], defaults.get(field.name, dataclasses.MISSING)
        shown = "" if value == default else ("(required)" if default is dataclasses.MISSING else repr(default))
        rows.append(f"| {field.name} | {value!r} | {shown} | {docs.get(field.name, '')} |")
    return "\n".join(rows)


def check_run_dir(run_dir: Path, resume: bool) -> None:
    if (run_dir / CHECKPOINT).exists() and not resume:
        raise ValueError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")


# Settings a resumed run may change: how fast it runs and how long (a longer run goes on where it stopped; a
# cosine schedule then stretches to the new length).
RESOURCE_KEYS = ("threads", "steps", "iterations")


def check_resumed_config(run_dir: Path, saved: dict, now: dict) -> None:
    """On --resume the run's own config wins: refuse a config (or dataset, task set, bundle) that differs from the
    one the run was started with, naming every difference, instead of silently mixing two configurations. Keys
    the run did not record (it predates them) are not compared."""
    saved, now = json.loads(json.dumps(saved)), json.loads(json.dumps(now))  # tuples and lists alike
    differences = [
        f"{key}: {saved[key]!r} -> {now.get(key)!r}"
        for key in sorted(saved)
        if key not in RESOURCE_KEYS and saved[key] != now.get(key)
    ]
    if differences:
        raise ValueError(
            f"{run_dir} was started with other settings than this --resume gives ("
            + "; ".join(differences)
            + "); resume with the run's own config (it is saved in the run "
            "directory) or start a new --out"
        )


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
