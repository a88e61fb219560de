"""Export a trained skill model to a policy bundle: skill_decoder.onnx, skill_prior.onnx and manifest.yaml
(with provenance: the command, config, git commit, dataset and training metrics)."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from simpl_core.envs.domains import domain
from simpl_core.runtime.bundle import FORMAT, GRAPH_SIGNATURES, PolicyBundle, graph_entry, seal
from simpl_core.skills.model import SkillDecoder, SkillModel, SkillModelConfig, SkillPrior
from simpl_core.skills.train import SUMMARY, load_skill_model

ONNX_OPSET = 17
SKILL_WEIGHTS = "skill_model.pt"  # torch weights of decoder and prior, for training the high level on top


def git_state(repo: Path) -> dict:
    """Commit and dirtiness of the checkout the code runs from (None outside git)."""
    def git(*args: str) -> str | None:
        result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else None
    commit = git("rev-parse", "HEAD")
    return {"commit": commit, "dirty": bool(git("status", "--porcelain", "--untracked-files=no")) if commit else None}


def export_graph(module: nn.Module, name: str, example: tuple[torch.Tensor, ...], path: Path,
                 dims: dict[str, int]) -> None:
    """Export `module` as graph `name` with tensors (batch, dims[...]) named as in GRAPH_SIGNATURES."""
    inputs, outputs = GRAPH_SIGNATURES[name]
    with warnings.catch_warnings():  # the legacy exporter is deprecated but exact and fast for these graphs
        warnings.simplefilter("ignore")
        torch.onnx.export(module, example, str(path), input_names=list(inputs), output_names=list(outputs),
                          dynamic_axes={tensor: {0: "batch"} for tensor in [*inputs, *outputs]},
                          opset_version=ONNX_OPSET, dynamo=False)
    # The exporter leaves sliced outputs (mean, log_std) with symbolic widths; declare the real ones.
    graph = onnx.load(str(path))
    widths = {tensor: dims[key] for tensor, key in {**inputs, **outputs}.items()}
    for value in [*graph.graph.input, *graph.graph.output]:
        value.type.tensor_type.shape.dim[1].dim_value = widths[value.name]
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
        "graphs": {name: graph_entry(name, dims) for name in ("skill_decoder", "skill_prior")},
        "files": {},
        "provenance": {
            "command": command,
            "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "git": git_state(Path(__file__).resolve().parents[2]),
            "skills": {
                "run_dir": str(run_dir),
                "dataset": checkpoint["dataset"],
                "train_config": checkpoint["train_config"],
                "model_config": checkpoint["model_config"],
                "steps": checkpoint["step"],
                "metrics": json.loads(summary_path.read_text()) if summary_path.exists() else None,
            },
            "versions": {"torch": str(torch.__version__), "onnx_opset": ONNX_OPSET},
        },
    }
    torch.save({"model_config": checkpoint["model_config"], "decoder": model.decoder.state_dict(),
                "prior": model.prior.state_dict()}, out_dir / SKILL_WEIGHTS)
    return seal(out_dir, manifest, extra_files=(SKILL_WEIGHTS,))


def load_bundle_skills(bundle_dir: str | Path) -> tuple[SkillDecoder, SkillPrior, PolicyBundle]:
    """The frozen torch decoder and prior of a verified bundle (for training the levels above them)."""
    bundle = PolicyBundle.load(bundle_dir)
    weights = torch.load(Path(bundle_dir) / SKILL_WEIGHTS, map_location="cpu", weights_only=True)
    cfg = SkillModelConfig(**weights["model_config"])
    decoder, prior = SkillDecoder(cfg), SkillPrior(cfg)
    decoder.load_state_dict(weights["decoder"])
    prior.load_state_dict(weights["prior"])
    return decoder.eval().requires_grad_(False), prior.eval().requires_grad_(False), bundle
