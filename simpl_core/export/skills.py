"""Skill bundles from a skill-training run (torch side): skill_decoder and skill_prior ONNX graphs, the torch weights
for training further (SKILL_WEIGHTS) and manifest.yaml with provenance; and the torch skills read back from a
verified bundle."""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path

import torch

from simpl_core.envs.domains import domain
from simpl_core.export.graphs import ONNX_OPSET, export_graph, git_state
from simpl_core.runtime.bundle import FORMAT, SKILL_WEIGHTS, PolicyBundle, graph_entry, seal
from simpl_core.skills.model import SkillDecoder, SkillModel, SkillModelConfig, SkillPrior
from simpl_core.skills.train import SUMMARY, load_skill_model


def skill_dims(model: SkillModel) -> dict[str, int]:
    return {"state": model.cfg.state_dim, "action": model.cfg.action_dim, "latent": model.cfg.latent_dim}


def export_skills(run_dir: str | Path, out_dir: str | Path, command: str) -> Path:
    """Write the skill graphs of the run in `run_dir` into the bundle `out_dir`; returns the manifest path."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    model, checkpoint = load_skill_model(run_dir)
    spec = domain(checkpoint["train_config"]["domain"])
    dims = skill_dims(model)
    if (dims["state"], dims["action"]) != (spec.state_dim, spec.action_dim):
        raise ValueError(
            f"the model's dims {dims} do not fit domain {spec.name!r} "
            f"({spec.state_dim} states, {spec.action_dim} actions)"
        )
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
            "git": git_state(),
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
    torch.save(
        {
            "model_config": checkpoint["model_config"],
            "decoder": model.decoder.state_dict(),
            "prior": model.prior.state_dict(),
            "encoder": model.encoder.state_dict(),
        },
        out_dir / SKILL_WEIGHTS,
    )
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
