"""Policy bundles from trained models (torch side): ONNX graphs, torch weights for further training, and
manifest.yaml with provenance (the command, config, git commit, dataset and training metrics).

`export_skills` starts a bundle from a skill run (skill_decoder, skill_prior); `export_meta` adds a SiMPL
meta-training run to it (high_level_policy, task_encoder). `load_bundle_skills` / `load_bundle_meta` read the
torch weights back, after the bundle's hashes are verified."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from simpl_core.envs.domains import domain
from simpl_core.runtime.bundle import (DYNAMIC_AXES, FORMAT, BundleError, GRAPH_SIGNATURES, PolicyBundle, graph_entry, seal,
                                       tensor_shape)
from simpl_core.skills.model import SkillDecoder, SkillModel, SkillModelConfig, SkillPrior
from simpl_core.skills.train import SUMMARY, load_skill_model

ONNX_OPSET = 17
SKILL_WEIGHTS = "skill_model.pt"  # torch weights of decoder and prior (for training the high level on top) and of
                                  # the encoder (for continuing the skill training: train-skills init_from)
META_WEIGHTS = "simpl_model.pt"   # torch weights of the meta-trained encoder, policy and critics, for adaptation
# Not stored in META_WEIGHTS: the skill prior is in SKILL_WEIGHTS, target critics restart as copies of the critics.
REBUILT_WEIGHTS = ("policy.prior.", "target_critics.")


def git_state(repo: Path) -> dict:
    """Commit and dirtiness of the checkout the code runs from (None outside git)."""
    def git(*args: str) -> str | None:
        result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else None
    commit = git("rev-parse", "HEAD")
    return {"commit": commit, "dirty": bool(git("status", "--porcelain", "--untracked-files=no")) if commit else None}


def export_graph(module: nn.Module, name: str, example: tuple[torch.Tensor, ...], path: Path,
                 dims: dict[str, int]) -> None:
    """Export `module` as graph `name`, tensors named and shaped as in GRAPH_SIGNATURES."""
    inputs, outputs = GRAPH_SIGNATURES[name]
    dynamic = {tensor: {i: axis for i, axis in enumerate(axes) if axis in DYNAMIC_AXES}
               for tensor, axes in {**inputs, **outputs}.items()}
    with warnings.catch_warnings():  # the legacy exporter is deprecated but exact and fast for these graphs
        warnings.simplefilter("ignore")
        torch.onnx.export(module, example, str(path), input_names=list(inputs), output_names=list(outputs),
                          dynamic_axes=dynamic, opset_version=ONNX_OPSET, dynamo=False)
    # The exporter leaves some fixed widths symbolic (e.g. after a chunk); declare the real ones.
    graph = onnx.load(str(path))
    axes_of = {**inputs, **outputs}
    for value in [*graph.graph.input, *graph.graph.output]:
        for dim, size in zip(value.type.tensor_type.shape.dim, tensor_shape(axes_of[value.name], dims)):
            if isinstance(size, int):
                dim.dim_value = size
    onnx.checker.check_model(graph)
    onnx.save(graph, str(path))


def skill_dims(model: SkillModel) -> dict[str, int]:
    return {"state": model.cfg.state_dim, "action": model.cfg.action_dim, "latent": model.cfg.latent_dim}


def export_skills(run_dir: str | Path, out_dir: str | Path, command: str) -> Path:
    """Write the skill graphs of the run in `run_dir` into the bundle `out_dir`; returns the manifest path."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    model, checkpoint = load_skill_model(run_dir)
    spec = domain(checkpoint["train_config"]["domain"])
    dims = skill_dims(model)
    if (dims["state"], dims["action"]) != (spec.state_dim, spec.action_dim):
        raise ValueError(f"the model's dims {dims} do not fit domain {spec.name!r} "
                         f"({spec.state_dim} states, {spec.action_dim} actions)")
    out_dir.mkdir(parents=True, exist_ok=True)
    state, z = torch.zeros(2, dims["state"]), torch.zeros(2, dims["latent"])
    export_graph(model.decoder, "skill_decoder", (state, z), out_dir / "skill_decoder.onnx", dims)
    export_graph(model.prior, "skill_prior", (state,), out_dir / "skill_prior.onnx", dims)
    summary_path = run_dir / SUMMARY
    if (run_dir / "loss_curve.png").exists():  # the training curves travel with the bundle they produced
        shutil.copyfile(run_dir / "loss_curve.png", out_dir / "skills_loss_curve.png")
    manifest = {
        "format": FORMAT,
        "domain": spec.name,
        "dims": dims,
        "skill_horizon": model.cfg.horizon,
        "control_rate_hz": spec.control_rate_hz,
        "action_bounds": {"low": [spec.action_low] * spec.action_dim, "high": [spec.action_high] * spec.action_dim},
        "observation_names": list(spec.observation_names),
        "action_names": list(spec.action_names),
        # What decoder and prior read of the observation (the graphs take the whole observation and pick these);
        # their standardisation, where the model has one, is inside the graphs.
        "input_slice": [spec.observation_names[i] for i in model.cfg.decoder_inputs],
        "graphs": {name: graph_entry(name, dims) for name in ("skill_decoder", "skill_prior")},
        "files": {},
        "provenance": {
            "command": command,
            "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "git": git_state(Path(__file__).resolve().parents[1]),
            "skills": {
                "run_dir": str(run_dir),
                "dataset": checkpoint["dataset"],
                "train_config": checkpoint["train_config"],
                "model_config": checkpoint["model_config"],
                "steps": checkpoint["step"],
                "selection": checkpoint.get("selection"),
                "metrics": json.loads(summary_path.read_text()) if summary_path.exists() else None,
            },
            "versions": {"torch": str(torch.__version__), "onnx_opset": ONNX_OPSET},
        },
    }
    torch.save({"model_config": checkpoint["model_config"], "decoder": model.decoder.state_dict(),
                "prior": model.prior.state_dict(), "encoder": model.encoder.state_dict()}, out_dir / SKILL_WEIGHTS)
    return seal(out_dir, manifest, extra_files=(SKILL_WEIGHTS,))


def load_bundle_for_env(bundle_dir: str | Path) -> PolicyBundle:
    """The verified bundle, refused unless its skills read the observation its domain's env gives."""
    manifest = PolicyBundle.read_manifest(Path(bundle_dir))
    return PolicyBundle.load(bundle_dir, domain(manifest["domain"]).observation_names)


def load_bundle_skills(bundle_dir: str | Path) -> tuple[SkillDecoder, SkillPrior, PolicyBundle]:
    """The frozen torch decoder and prior of a verified bundle (for training the levels above them)."""
    bundle = load_bundle_for_env(bundle_dir)
    weights = torch.load(Path(bundle_dir) / SKILL_WEIGHTS, map_location="cpu", weights_only=True)
    cfg = SkillModelConfig(**weights["model_config"])
    decoder, prior = SkillDecoder(cfg), SkillPrior(cfg)
    decoder.load_state_dict(weights["decoder"])
    prior.load_state_dict(weights["prior"])
    return decoder.eval().requires_grad_(False), prior.eval().requires_grad_(False), bundle


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
    return {"iterations": rows[-1]["iteration"], "env_steps": rows[-1]["env_steps"],
            "wall_clock_s": round(sum(r["iteration_s"] for r in rows), 1),
            f"posterior_success_last_{window}": round(float(np.mean([r["posterior_return"] for r in last])), 3),
            f"prior_success_last_{window}": round(float(np.mean([r["prior_return"] for r in last])), 3),
            "final_coefficients": {k: rows[-1][k] for k in ("lambda_small", "lambda_large_mean", "beta_small",
                                                            "beta_large")}}


def export_meta(run_dir: str | Path, bundle_dir: str | Path, command: str) -> Path:
    """Add a meta-training run (over this bundle's skills) to the bundle: high_level_policy.onnx,
    task_encoder.onnx (dynamic set size) and simpl_model.pt."""
    from simpl_core.meta.simpl import load_meta_run

    run_dir, bundle_dir = Path(run_dir), Path(bundle_dir)
    simpl, checkpoint, rows, run_info = load_meta_run(run_dir, bundle_dir)
    if (simpl.cfg.actions, simpl.cfg.task_conditioning) != ("skills", "context"):
        raise BundleError(f"{run_dir} is a baseline run ({simpl.cfg.actions} actions, {simpl.cfg.task_conditioning} "
                          "conditioning: PEARL or MTRL); a bundle holds SiMPL's policy over its skills")
    bundle = PolicyBundle.load(bundle_dir)
    manifest = bundle.manifest
    trained_on = run_info.get("skills_sha256")
    if trained_on and trained_on != manifest["files"][SKILL_WEIGHTS]:
        raise BundleError(f"{run_dir} was meta-trained on other skills than those in {bundle_dir}; export it into "
                          "the bundle it was trained on, or meta-train again")
    dims = {**manifest["dims"], "task": simpl.cfg.task_dim, "transition": simpl.layout.width}
    state, e = torch.zeros(2, dims["state"]), torch.zeros(2, dims["task"])
    export_graph(_HighLevelPolicyGraph(simpl.policy), "high_level_policy", (state, e),
                 bundle_dir / "high_level_policy.onnx", dims)
    export_graph(simpl.encoder, "task_encoder", (torch.zeros(1, 8, dims["transition"]),),
                 bundle_dir / "task_encoder.onnx", dims)
    if (run_dir / "meta_training.png").exists():
        shutil.copyfile(run_dir / "meta_training.png", bundle_dir / "meta_training.png")
    torch.save({"config": checkpoint["config"], "num_tasks": len(checkpoint["enc_buffers"]),
                "simpl": {k: v for k, v in simpl.state_dict().items() if not k.startswith(REBUILT_WEIGHTS)}},
               bundle_dir / META_WEIGHTS)
    manifest["dims"] = dims
    manifest["graphs"] = {name: graph_entry(name, dims) for name in
                          ("skill_decoder", "skill_prior", "high_level_policy", "task_encoder")}
    manifest["provenance"]["meta"] = {"command": command, "run_dir": str(run_dir), "tasks": run_info["tasks"],
                                      "config": checkpoint["config"], "git": git_state(Path(__file__).resolve().parents[1]),
                                      "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                                          timespec="seconds"),
                                      "metrics": meta_summary(rows)}
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
    export_graph(_HighLevelPolicyGraph(policy.eval()), "high_level_policy",
                 (torch.zeros(2, dims["state"]), torch.zeros(2, dims["task"])), tmp / "high_level_policy.onnx", dims)
    policy.train(was_training)
    manifest["provenance"]["adaptation"] = adaptation
    seal(tmp, manifest, extra_files=(SKILL_WEIGHTS, META_WEIGHTS))
    PolicyBundle.load(tmp)  # verified before anyone sees it
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return out_dir


def load_bundle_meta(bundle_dir: str | Path):
    """The meta-trained Simpl module (eval mode) of a verified bundle, and the bundle."""
    from simpl_core.meta.config import SimplConfig
    from simpl_core.meta.simpl import Simpl

    _, prior, bundle = load_bundle_skills(bundle_dir)
    if "high_level_policy" not in bundle.manifest["graphs"]:
        raise BundleError(f"{bundle_dir} holds skills only; add a meta-training run with `simpl export --meta`")
    weights = torch.load(Path(bundle_dir) / META_WEIGHTS, map_location="cpu", weights_only=True)
    simpl = Simpl(SimplConfig(**weights["config"]), prior, bundle.state_dim, bundle.latent_dim, weights["num_tasks"])
    missing, unexpected = simpl.load_state_dict(weights["simpl"], strict=False)
    if unexpected or not all(key.startswith(REBUILT_WEIGHTS) for key in missing):
        raise BundleError(f"{bundle_dir}/{META_WEIGHTS} does not fit the networks: missing {missing}, "
                          f"unexpected {unexpected}")
    simpl.target_critics.load_state_dict(simpl.critics.state_dict())
    return simpl.eval(), bundle


def record_target_learning(bundle_dir: str | Path, results_dir: str | Path) -> Path:
    """Write what a sample-efficiency run measured for this bundle's SiMPL (checkpoints, phases, the command) into
    the manifest, so the shipped numbers travel with the model and can be re-measured with that command."""
    from simpl_core.meta.benchmark import checkpoint_table, phase_table, read_csv

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
        "command": info["command"], "tasks": info["tasks"], "seeds": info["seeds"],
        "first_seed": info.get("first_seed", 0), "episodes": info["episodes"], "target_config": info["target_config"],
        "success_at_checkpoints": checkpoint_table(rows, manifest["domain"])["simpl"],
        "mean_success": phase_table(rows, exploration)["simpl"]}
    return seal(bundle_dir, manifest, extra_files=(SKILL_WEIGHTS, META_WEIGHTS))
