"""Skill extraction, ONNX export and the bundle runtime, on the smoke configuration."""

import json
import shutil

import numpy as np
import pytest
import torch
import yaml

from simpl_core.cli import main
from simpl_core.data.minari_io import load_dataset
from simpl_core.data.windows import WindowSampler
from simpl_core.paths import resource
from simpl_core.runtime.bundle import BundleError, PolicyBundle
from simpl_core.skills.model import SkillModel, SkillModelConfig
from simpl_core.skills.train import SkillTrainConfig, load_skill_model, train_skills

SMOKE = str(resource("config", "skills_smoke.yaml"))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "maze-smoke-v0"
    assert main(["data", "maze", "--episodes", "12", "--num-envs", "4", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def skills_run(dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "skills"
    assert main(["skills", "train", "--config", SMOKE, "--dataset", str(dataset), "--out", str(run)]) == 0
    return run


@pytest.fixture(scope="module")
def bundle_dir(skills_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "maze"
    assert main(["skills", "export", str(skills_run), "--out", str(out)]) == 0
    return out


def test_losses_follow_spirl():
    torch.manual_seed(0)
    model = SkillModel(SkillModelConfig(state_dim=4, action_dim=2, hidden_dim=16, decoder_blocks=1, prior_blocks=1))
    states, actions = torch.randn(8, 11, 4), torch.randn(8, 10, 2)
    _, parts = model.loss(states, actions)
    # The prior is fit on a detached posterior sample: its loss sends no gradient into encoder or decoder.
    p_mean, p_log_std = model.prior(states[:, 0])
    z = torch.randn(8, 10)
    (0.5 * ((z - p_mean) / p_log_std.exp()) ** 2 + p_log_std).sum().backward()
    assert all(p.grad is None for p in [*model.encoder.parameters(), *model.decoder.parameters()])
    hidden = model.cfg.hidden_dim
    assert torch.all(model.encoder.lstm.bias_ih_l0[hidden : 2 * hidden] == 1.0)  # forget-gate bias +1
    assert set(parts) == {"loss", "reconstruction", "kl", "prior_nll"}
    assert parts["loss"] == pytest.approx(parts["reconstruction"] + 0.01 * parts["kl"] + parts["prior_nll"], rel=1e-5)


def test_training_writes_metrics_checkpoint_and_plot(skills_run):
    for name in ("checkpoint.pt", "metrics.jsonl", "loss_curve.png", "summary.json", "config.yaml"):
        assert (skills_run / name).is_file(), name
    rows = [json.loads(line) for line in (skills_run / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if "loss" in r]
    assert [r["step"] for r in train_rows] == [10, 20, 30, 40]
    assert train_rows[-1]["reconstruction"] < train_rows[0]["reconstruction"]  # it learns
    summary = json.loads((skills_run / "summary.json").read_text())
    assert summary["steps"] == 40 and summary["windows_per_s"] > 0
    model, _ = load_skill_model(skills_run)
    assert not model.training and not model.decoder.net[3].training  # BatchNorm in eval mode downstream


def test_resume_continues_exactly(dataset, tmp_path):
    cfg = SkillTrainConfig.from_yaml(SMOKE)
    train_skills(cfg, dataset, tmp_path / "straight", progress=False)
    cfg.steps = 20
    train_skills(cfg, dataset, tmp_path / "interrupted", progress=False)
    with pytest.raises(ValueError, match="--resume"):
        train_skills(cfg, dataset, tmp_path / "interrupted", progress=False)
    cfg.steps = 40
    cfg.learning_rate *= 2
    with pytest.raises(ValueError, match=r"other settings .*learning_rate: 0\.001 -> 0\.002"):
        train_skills(cfg, dataset, tmp_path / "interrupted", resume=True, progress=False)  # the run's config wins
    cfg.learning_rate /= 2
    train_skills(cfg, dataset, tmp_path / "interrupted", resume=True, progress=False)
    straight, _ = load_skill_model(tmp_path / "straight")
    resumed, _ = load_skill_model(tmp_path / "interrupted")
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_config_typos_are_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("domain: maze\nstepz: 10\n")
    with pytest.raises(ValueError, match="stepz"):
        SkillTrainConfig.from_yaml(bad)


def test_config_base_key_inherits_and_overrides(tmp_path):
    (tmp_path / "base.yaml").write_text("domain: maze\nsteps: 10\nbatch_size: 8\n")
    (tmp_path / "sub").mkdir()
    child = tmp_path / "sub" / "child.yaml"
    child.write_text("base: ../base.yaml\nsteps: 20\n")
    cfg = SkillTrainConfig.from_yaml(child)
    assert (cfg.domain, cfg.steps, cfg.batch_size) == ("maze", 20, 8)
    (tmp_path / "base.yaml").write_text("base: sub/child.yaml\n")
    with pytest.raises(ValueError, match="loops back"):
        SkillTrainConfig.from_yaml(child)
    child.write_text("base: ../missing.yaml\n")
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        SkillTrainConfig.from_yaml(child)


def test_onnx_matches_torch(skills_run, bundle_dir, dataset):
    model, _ = load_skill_model(skills_run)
    bundle = PolicyBundle.load(bundle_dir)
    rng = np.random.default_rng(0)
    random_states = rng.uniform([0, 0, -5, -5], [21, 21, 5, 5], (256, 4)).astype(np.float32)
    real_states, _ = WindowSampler(load_dataset(dataset), seed=1).sample(32)
    for states in (random_states, real_states.reshape(-1, 4)):
        z = rng.standard_normal((len(states), 10)).astype(np.float32)
        with torch.no_grad():
            action = model.decoder(torch.from_numpy(states), torch.from_numpy(z)).numpy()
            mean, log_std = (t.numpy() for t in model.prior(torch.from_numpy(states)))
        np.testing.assert_allclose(bundle.decode(states, z), action, atol=1e-5, rtol=0)
        onnx_mean, onnx_log_std = bundle.prior(states)
        np.testing.assert_allclose(onnx_mean, mean, atol=1e-5, rtol=0)
        np.testing.assert_allclose(onnx_log_std, log_std, atol=1e-5, rtol=0)


def test_manifest_has_provenance(bundle_dir):
    manifest = yaml.safe_load((bundle_dir / "manifest.yaml").read_text())
    assert manifest["dims"] == {"state": 4, "action": 2, "latent": 10}
    assert manifest["skill_horizon"] == 10 and manifest["control_rate_hz"] == 100.0
    assert manifest["observation_names"] == ["x", "y", "vx", "vy"]
    assert set(manifest["files"]) == {"skill_decoder.onnx", "skill_prior.onnx", "skill_model.pt"}
    provenance = manifest["provenance"]
    assert provenance["command"].startswith("simpl skills export")
    assert provenance["skills"]["metrics"]["steps"] == 40
    assert provenance["skills"]["train_config"]["batch_size"] == 32


def test_tampered_or_incomplete_bundles_are_refused(bundle_dir, tmp_path):
    def copy() -> object:
        target = tmp_path / f"b{len(list(tmp_path.iterdir()))}"
        shutil.copytree(bundle_dir, target)
        return target

    tampered = copy()
    data = bytearray((tampered / "skill_decoder.onnx").read_bytes())
    data[-10] ^= 0xFF
    (tampered / "skill_decoder.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256"):
        PolicyBundle.load(tampered)

    missing = copy()
    (missing / "skill_prior.onnx").unlink()
    with pytest.raises(BundleError, match="missing"):
        PolicyBundle.load(missing)

    no_manifest = copy()
    (no_manifest / "manifest.yaml").unlink()
    with pytest.raises(BundleError, match="manifest.yaml is missing"):
        PolicyBundle.load(no_manifest)

    wrong_dims = copy()
    manifest = yaml.safe_load((wrong_dims / "manifest.yaml").read_text())
    manifest["dims"]["state"] = 5
    (wrong_dims / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    with pytest.raises(BundleError, match="does not match the dims"):
        PolicyBundle.load(wrong_dims)


def test_bad_inference_inputs_are_refused(bundle_dir):
    bundle = PolicyBundle.load(bundle_dir)
    with pytest.raises(ValueError, match="shape"):
        bundle.decode(np.zeros(3), np.zeros(10))
    with pytest.raises(ValueError, match="NaN"):
        bundle.prior(np.array([1.0, np.nan, 0.0, 0.0]))
    assert bundle.decode(np.zeros(4), np.zeros(10)).shape == (1, 2)  # a single sample is batched


def test_eval_prior_reports_and_draws(bundle_dir, tmp_path, capsys):
    assert (
        main(
            [
                "skills",
                "eval-prior",
                "--bundle",
                str(bundle_dir),
                "--episodes",
                "4",
                "--steps",
                "50",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "prior_report.json").read_text())
    assert report["episodes"] == 4 and 0 < report["coverage_all_episodes"] <= 1
    assert set(report["goal_sets"]) >= {"maze-train-40", "maze-target-10"}
    assert (tmp_path / "prior_rollouts.png").stat().st_size > 10_000


def test_shipped_maze_bundle_verifies_and_runs():
    bundle = PolicyBundle.load(resource("models", "maze"))
    assert bundle.manifest["provenance"]["git"]["commit"]
    metrics = bundle.manifest["provenance"]["skills"]["metrics"]
    assert metrics["steps"] >= 10_000
    action = bundle.clip_action(bundle.decode(np.array([10.0, 10.0, 0.0, 0.0]), np.zeros(10)))
    assert action.shape == (1, 2) and np.all(np.abs(action) <= 1)
