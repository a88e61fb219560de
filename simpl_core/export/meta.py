"""Meta-trained bundles (torch side): a SiMPL run over a bundle's skills added as high_level_policy and
task_encoder ONNX graphs plus META_WEIGHTS; a target-adapted copy of such a bundle; the Simpl module read back."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import numpy as np
import torch
from torch import nn

from simpl_core.export.graphs import export_graph, git_state
from simpl_core.export.skills import load_bundle_skills
from simpl_core.meta.config import SimplConfig
from simpl_core.meta.simpl import Simpl, load_meta_run, read_meta_weights
from simpl_core.runtime.bundle import META_WEIGHTS, SKILL_WEIGHTS, BundleError, PolicyBundle, graph_entry, seal


class _HighLevelPolicyGraph(nn.Module):
    """pi(z | s, e) as (mean, log_std), with the frozen skill prior inside."""

    def __init__(self, policy: nn.Module):
        super().__init__()
        self.policy = policy

    def forward(self, state: torch.Tensor, e: torch.Tensor):
        mean, std = self.policy(state, e)
        return mean, torch.log(std)


def meta_summary(rows: list[dict], window: int = 10) -> dict:
    """What the manifest keeps of a meta-training run's metrics."""
    last = rows[-window:]
    return {
        "iterations": rows[-1]["iteration"],
        "env_steps": rows[-1]["env_steps"],
        "wall_clock_s": round(sum(r["iteration_s"] for r in rows), 1),
        f"posterior_success_last_{window}": round(float(np.mean([r["posterior_return"] for r in last])), 3),
        f"prior_success_last_{window}": round(float(np.mean([r["prior_return"] for r in last])), 3),
        "final_coefficients": {
            k: rows[-1][k] for k in ("lambda_small", "lambda_large_mean", "beta_small", "beta_large")
        },
    }


def export_meta(run_dir: str | Path, bundle_dir: str | Path, command: str) -> Path:
    """Add a meta-training run (over this bundle's skills) to the bundle: high_level_policy.onnx,
    task_encoder.onnx (dynamic set size) and simpl_model.pt."""
    run_dir, bundle_dir = Path(run_dir), Path(bundle_dir)
    simpl, checkpoint, rows, run_info = load_meta_run(run_dir, bundle_dir)
    if (simpl.cfg.actions, simpl.cfg.task_conditioning) != ("skills", "context"):
        raise BundleError(
            f"{run_dir} is a baseline run ({simpl.cfg.actions} actions, {simpl.cfg.task_conditioning} "
            "conditioning: PEARL or MTRL); a bundle holds SiMPL's policy over its skills"
        )
    bundle = PolicyBundle.load(bundle_dir)
    manifest = bundle.manifest
    trained_on = run_info.get("skills_sha256")
    if trained_on and trained_on != manifest["files"][SKILL_WEIGHTS]:
        raise BundleError(
            f"{run_dir} was meta-trained on other skills than those in {bundle_dir}; export it into "
            "the bundle it was trained on, or meta-train again"
        )
    dims = {**manifest["dims"], "task": simpl.cfg.task_dim, "transition": simpl.layout.width}
    state, e = torch.zeros(2, dims["state"]), torch.zeros(2, dims["task"])
    export_graph(
        _HighLevelPolicyGraph(simpl.policy),
        "high_level_policy",
        (state, e),
        bundle_dir / "high_level_policy.onnx",
        dims,
    )
    export_graph(
        simpl.encoder, "task_encoder", (torch.zeros(1, 8, dims["transition"]),), bundle_dir / "task_encoder.onnx", dims
    )
    if (run_dir / "meta_training.png").exists():
        shutil.copyfile(run_dir / "meta_training.png", bundle_dir / "meta_training.png")
    torch.save(
        {
            "config": checkpoint["config"],
            "num_tasks": len(checkpoint["enc_buffers"]),
            "simpl": simpl.saved_weights(),
        },
        bundle_dir / META_WEIGHTS,
    )
    manifest["dims"] = dims
    manifest["graphs"] = {
        name: graph_entry(name, dims) for name in ("skill_decoder", "skill_prior", "high_level_policy", "task_encoder")
    }
    manifest["provenance"]["meta"] = {
        "command": command,
        "run_dir": str(run_dir),
        "tasks": run_info["tasks"],
        "config": checkpoint["config"],
        "git": git_state(),
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "metrics": meta_summary(rows),
    }
    return seal(bundle_dir, manifest, extra_files=(SKILL_WEIGHTS, META_WEIGHTS))


def export_adapted_policy(bundle_dir: str | Path, policy: nn.Module, out_dir: str | Path, adaptation: dict) -> Path:
    """A copy of a meta-trained bundle whose high_level_policy.onnx is `policy` (fine-tuned on a target task),
    sealed, with what the adaptation did under provenance.adaptation; the graphs keep their signatures, so a
    running skill selector can swap to it."""
    bundle_dir, out_dir = Path(bundle_dir), Path(out_dir)
    manifest = PolicyBundle.load(bundle_dir).manifest
    if "high_level_policy" not in manifest["graphs"]:
        raise BundleError(f"{bundle_dir} holds skills only; there is no policy to adapt")
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(bundle_dir, tmp)
    dims = manifest["dims"]
    was_training = policy.training
    export_graph(
        _HighLevelPolicyGraph(policy.eval()),
        "high_level_policy",
        (torch.zeros(2, dims["state"]), torch.zeros(2, dims["task"])),
        tmp / "high_level_policy.onnx",
        dims,
    )
    policy.train(was_training)
    manifest["provenance"]["adaptation"] = adaptation
    seal(tmp, manifest, extra_files=(SKILL_WEIGHTS, META_WEIGHTS))
    PolicyBundle.load(tmp)  # verified before anyone sees it
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return out_dir


def load_bundle_meta(bundle_dir: str | Path):
    """The meta-trained Simpl module (eval mode) of a verified bundle, and the bundle."""
    _, prior, bundle = load_bundle_skills(bundle_dir)
    if "high_level_policy" not in bundle.manifest["graphs"]:
        raise BundleError(
            f"{bundle_dir} holds skills only; add a meta-training run with `simpl meta export RUN --out BUNDLE`"
        )
    weights = read_meta_weights(bundle_dir)
    simpl = Simpl(SimplConfig(**weights["config"]), prior, bundle.state_dim, bundle.latent_dim, weights["num_tasks"])
    simpl.load_saved_weights(weights["simpl"], f"{bundle_dir}/{META_WEIGHTS}")
    return simpl.eval(), bundle
