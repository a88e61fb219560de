"""`simpl data kitchen` and `simpl data inspect` on kitchen data, end to end on a small scripted-teleop dataset."""

import json
import shutil
import time

import minari
import numpy as np
import pytest
import torch
import yaml

from simpl_core.cli import main
from simpl_core.data.inspect import dataset_domain, kitchen_coverage, subtask_order, subtask_orders
from simpl_core.data.minari_io import OfflineDataset, load_dataset
from simpl_core.envs.domains import domain
from simpl_core.envs.kitchen.env import POSITION_NAMES
from simpl_core.envs.kitchen.task import SUBTASKS
from simpl_core.experiments.results import read_csv
from simpl_core.paths import resource
from simpl_core.runtime.bundle import BundleError, PolicyBundle, seal


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("datasets") / "kitchen-test-v0"
    assert (
        main(
            [
                "data",
                "kitchen",
                "--episodes",
                "3",
                "--subtasks",
                "1",
                "--workers",
                "1",
                "--seed",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


def test_teleop_episodes_are_task_agnostic_and_each_completes_its_subtask(small_dataset):
    dataset = load_dataset(small_dataset)
    assert dataset.num_episodes == 3 and dataset.observation_dim == 59 and dataset.action_dim == 9
    for episode in dataset.episodes:
        assert len(episode.observations) == episode.length + 1
        assert np.all(episode.rewards == 0) and episode.truncations[-1]  # no task information; no terminal state
        assert np.all(np.abs(episode.actions) <= 1)
        assert len(subtask_order(episode.observations)) >= 1  # the scripted operator got its subtask done
    assert json.loads(dataset.metadata["env_spec"])["id"] == "simpl/Kitchen-v0"
    assert set(dataset.metadata["teleop_subtask_success"].values()) == {1.0}


def test_minari_loads_the_kitchen_dataset(small_dataset, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(small_dataset.parent))
    loaded = minari.load_dataset(small_dataset.name)
    assert loaded.total_episodes == 3
    assert next(iter(loaded.iterate_episodes())).observations.shape[1] == 59


def test_inspect_draws_the_subtask_coverage(small_dataset, capsys):
    png = small_dataset.parent / "coverage.png"
    assert main(["data", "inspect", str(small_dataset), "--png", str(png)]) == 0
    printed = capsys.readouterr().out
    assert "subtasks     episodes completing each:" in printed and "kettle_qw" in printed
    assert png.stat().st_size > 10_000
    assert sum(kitchen_coverage(subtask_orders(load_dataset(small_dataset))).values()) >= 3


def test_kitchen_datasets_of_other_tools_are_recognised():
    """D4RL's kitchen data in Minari records FrankaKitchen-v1 (namespaced ids too)."""
    for env_id in ("FrankaKitchen-v1", "D4RL/kitchen/FrankaKitchen-v1"):
        dataset = OfflineDataset(episodes=[], metadata={"env_spec": json.dumps({"id": env_id})}, path=None)
        assert dataset_domain(dataset) == "kitchen"


def test_an_existing_dataset_is_kept_unless_asked(small_dataset, capsys):
    assert main(["data", "kitchen", "--episodes", "1", "--out", str(small_dataset)]) == 2
    assert "already holds a dataset" in capsys.readouterr().err


def test_an_out_name_minari_cannot_load_fails_before_generating(tmp_path, capsys):
    start = time.perf_counter()
    assert main(["data", "kitchen", "--episodes", "50", "--out", str(tmp_path / "kitchen-teleop-v1-1200")]) == 2
    assert "invalid dataset id 'kitchen-teleop-v1-1200'" in capsys.readouterr().err
    assert time.perf_counter() - start < 5 and not (tmp_path / "kitchen-teleop-v1-1200").exists()


@pytest.fixture(scope="module")
def smoke_bundle(small_dataset, tmp_path_factory):
    """Kitchen skills on the smoke configuration, exported: a bundle in seconds."""
    root = tmp_path_factory.mktemp("kitchen_skills")
    smoke = yaml.safe_load(resource("config", "skills_smoke.yaml").read_text())
    config = root / "skills_kitchen_smoke.yaml"
    # As skills_kitchen_v1.yaml: positions-only inputs, standardisation in the graphs, replay-based selection.
    config.write_text(
        yaml.safe_dump(
            {
                **smoke,
                "domain": "kitchen",
                "inputs": "positions",
                "lr_schedule": "cosine",
                "model": {**smoke["model"], "normalize": True, "gripper_dims": 2},
                "select_every": 20,
                "select_episodes": 1,
            }
        )
    )
    run, bundle = root / "skills", root / "bundle"
    assert main(["skills", "train", "--config", str(config), "--dataset", str(small_dataset), "--out", str(run)]) == 0
    assert main(["skills", "export", str(run), "--out", str(bundle)]) == 0
    return bundle


def test_eval_prior_reports_what_the_kitchen_prior_completes(smoke_bundle):
    assert main(["skills", "eval-prior", "--bundle", str(smoke_bundle), "--episodes", "3", "--steps", "20"]) == 0
    report = json.loads((smoke_bundle / "prior_report.json").read_text())
    assert report["episodes"] == 3 and report["steps_per_episode"] == 20
    assert set(report["subtask_rate"]) == set(SUBTASKS) and sum(report["common_orders"].values()) == 3


def test_eval_skills_replays_demonstrations_open_loop_and_through_the_skills(small_dataset, smoke_bundle, tmp_path):
    skills, out = smoke_bundle.parent / "skills", tmp_path / "replay.json"
    assert (
        main(
            [
                "skills",
                "eval-skills",
                "--skills",
                str(skills),
                "--dataset",
                str(small_dataset),
                "--episodes",
                "3",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    demos = load_dataset(small_dataset).episodes
    assert report["episodes"] == 3 and report["dataset_episodes"] == [0, 1, 2]
    for subtask, counts in report["episodes_completing"].items():
        assert counts["demonstration"] == sum(subtask in subtask_order(e.observations) for e in demos)
    assert report["subtasks_per_episode"]["demonstration"] >= 1
    # the recorded actions replayed from a fresh reset (other noise) retrace the recording at first
    assert report["arm_gap_rad"]["open-loop actions"]["10"] < 0.05
    assert set(report["arm_gap_rad"]["skills, closed loop"]) == {"10", "50", "100", "200"}
    assert main(["skills", "eval-skills", "--skills", str(skills), "--dataset", str(tmp_path / "none")]) == 2


@pytest.fixture(scope="module")
def kitchen_tasks(tmp_path_factory):
    tasks = tmp_path_factory.mktemp("kitchen_tasks") / "tasks.yaml"
    tasks.write_text(
        'domain: kitchen\ntask_sets:\n  two: ["microwave,kettle,light switch,slide cabinet", '
        '"kettle,microwave,top burner,hinge cabinet"]\n'
    )
    return tasks


@pytest.fixture(scope="module")
def meta_bundle(smoke_bundle, kitchen_tasks, tmp_path_factory):
    """The smoke skills bundle with SiMPL meta-trained on two kitchen sequences (smoke configuration) added."""
    root = tmp_path_factory.mktemp("kitchen_meta")
    smoke = yaml.safe_load(resource("config", "simpl_smoke.yaml").read_text())
    config, run = root / "simpl_kitchen_smoke.yaml", root / "meta"
    config.write_text(yaml.safe_dump({**smoke, "domain": "kitchen", "horizon": 20}))
    assert (
        main(
            [
                "meta",
                "train",
                "--config",
                str(config),
                "--bundle",
                str(smoke_bundle),
                "--tasks",
                str(kitchen_tasks),
                "--out",
                str(run),
            ]
        )
        == 0
    )
    assert main(["meta", "export", str(run), "--out", str(smoke_bundle)]) == 0
    return smoke_bundle


def test_simpl_meta_trains_on_kitchen_sequences(meta_bundle):
    bundle = PolicyBundle.load(meta_bundle)
    assert {"high_level_policy", "task_encoder"} <= set(bundle.sessions) and bundle.manifest["dims"]["state"] == 59


def test_kitchen_target_learning_runs_the_kitchen_protocol(meta_bundle, kitchen_tasks, tmp_path):
    out = tmp_path / "bench"
    assert (
        main(
            [
                "eval",
                "sample-efficiency",
                "--domain",
                "kitchen",
                "--bundle",
                str(meta_bundle),
                "--tasks",
                f"{kitchen_tasks}:two",
                "--methods",
                "simpl,spirl",
                "--episodes",
                "2",
                "--seeds",
                "1",
                "--workers",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    run = json.loads((out / "run.json").read_text())
    assert run["domain"] == "kitchen" and run["target_config"]["horizon"] == 280  # the paper's kitchen values
    assert run["target_config"]["simpl_sac"]["target_kl"] == 5.0 and run["target_config"]["scratch_layers"] == 5
    rows = read_csv(out / "returns.csv")
    assert len(rows) == 2 * 2 * 2  # methods x tasks x episodes
    assert all(0 <= float(r["return"]) <= 4 for r in rows)  # completed subtasks


def test_shipped_kitchen_bundle_is_the_v2_skills_meta_trained():
    """models/kitchen: the v2 skills (models/kitchen-v2's, byte for byte) with SiMPL meta-trained over them on
    kitchen-train-23; the manifest says how each part was reached."""
    from simpl_core.export.meta import load_bundle_meta

    simpl, bundle = load_bundle_meta(resource("models", "kitchen"))
    skills = PolicyBundle.load(resource("models", "kitchen-v2"))
    assert bundle.manifest["files"]["skill_model.pt"] == skills.manifest["files"]["skill_model.pt"]
    assert bundle.manifest["provenance"]["skills"]["dataset"] == "datasets/kitchen-teleop-v2"
    meta = bundle.manifest["provenance"]["meta"]
    assert meta["tasks"] == "kitchen-train-23" and meta["metrics"]["iterations"] >= 300 and meta["git"]["commit"]
    context = np.zeros((1, 5, bundle.manifest["dims"]["transition"]), np.float32)
    e_mean, _ = bundle.encode_task(context)
    mean, _ = bundle.high_level(np.zeros((1, 59), np.float32), e_mean)
    assert np.isfinite(mean).all() and bundle.decode(np.zeros(59, np.float32), mean).shape == (1, 9)
    report = json.loads(resource("models", "kitchen", "prior_report.json").read_text())
    assert report["episodes"] == 100 and set(report["subtask_rate"]) == set(SUBTASKS)


@pytest.mark.parametrize(
    "bundle, dataset, init_from",
    [
        ("kitchen-v1", "datasets/kitchen-teleop-v1", None),
        ("kitchen-v2", "datasets/kitchen-teleop-v2", "models/kitchen-v1"),
    ],
)
def test_shipped_kitchen_skill_bundles_load_for_the_kitchen_env_with_their_provenance(bundle, dataset, init_from):
    """The v1 and v2 skills: positions-only inputs, verified against the env's observation, and a manifest that
    says how the weights were reached (v2 continues v1's); their committed reports cover 50 replays and 100 prior
    runs."""
    from simpl_core.export.skills import load_bundle_for_env

    loaded = load_bundle_for_env(resource("models", bundle))
    skills = loaded.manifest["provenance"]["skills"]
    assert skills["dataset"] == dataset and skills["train_config"]["init_from"] == init_from
    assert loaded.manifest["input_slice"] == list(POSITION_NAMES)
    action = loaded.decode(np.zeros(59, np.float32), np.zeros((1, loaded.latent_dim), np.float32))
    assert action.shape == (1, 9) and np.isfinite(action).all()
    replay = json.loads(resource("models", bundle, "replay_report.json").read_text())
    prior = json.loads(resource("models", bundle, "prior_report.json").read_text())
    assert replay["episodes"] == 50 and prior["episodes"] == 100


def test_v1_data_keeps_corrective_labels_and_the_executed_actions(small_dataset):
    for episode in load_dataset(small_dataset).episodes:
        executed = episode.infos["executed_actions"]
        assert executed.shape == episode.actions.shape
        assert np.abs(executed[:, :7] - episode.actions[:, :7]).mean() > 1e-3  # noise was executed, not stored


def test_selection_by_replay_keeps_the_best_model_and_the_manifest_records_the_input_slice(smoke_bundle):
    run = smoke_bundle.parent / "skills"
    selections = [
        row for row in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "replay_subtasks" in row
    ]
    assert [row["step"] for row in selections] == [20, 40]
    assert all(row["executed_window_gap_rad"] < 0.02 for row in selections)  # the sim restarts at the demo's state
    # the clean labels did not move the arm: replayed open-loop they leave the demonstration by the noise corrected
    assert all(row["label_window_gap_rad"] > 2 * row["executed_window_gap_rad"] for row in selections)
    manifest = PolicyBundle.load(smoke_bundle).manifest
    assert manifest["input_slice"] == list(POSITION_NAMES)
    assert manifest["provenance"]["skills"]["steps"] == manifest["provenance"]["skills"]["selection"]["step"]


def test_onnx_graphs_with_the_baked_in_normaliser_match_torch(small_dataset, smoke_bundle):
    from simpl_core.export.skills import load_bundle_skills

    decoder, prior, bundle = load_bundle_skills(smoke_bundle)
    assert decoder.inputs.std.min() < 0.1 and decoder.outputs.mean.abs().max() > 0  # fitted, not identity
    rng = np.random.default_rng(0)
    recorded = load_dataset(small_dataset).episodes[0].observations
    states = recorded[rng.integers(len(recorded), size=16)] + 0.01 * rng.standard_normal((16, 59)).astype(np.float32)
    z = rng.standard_normal((16, 10)).astype(np.float32)
    with torch.no_grad():
        torch_action = decoder(torch.from_numpy(states), torch.from_numpy(z)).numpy()
        torch_mean, torch_log_std = (t.numpy() for t in prior(torch.from_numpy(states)))
    np.testing.assert_allclose(bundle.decode(states, z), torch_action, atol=1e-5)
    mean, log_std = bundle.prior(states)
    np.testing.assert_allclose(mean, torch_mean, atol=1e-5)
    np.testing.assert_allclose(log_std, torch_log_std, atol=1e-5)
    # positions only: the graphs ignore the velocities
    moved = states.copy()
    moved[:, 9:18] += 1.0
    np.testing.assert_array_equal(bundle.decode(moved, z), bundle.decode(states, z))


def test_a_bundle_whose_input_slice_does_not_match_the_env_is_refused(smoke_bundle, tmp_path, capsys):
    swapped = tmp_path / "swapped"
    shutil.copytree(smoke_bundle, swapped)
    manifest = yaml.safe_load((swapped / "manifest.yaml").read_text())
    names = manifest["observation_names"]
    names[0], names[9] = names[9], names[0]  # trained where joint 1's position and velocity sit the other way round
    seal(swapped, manifest, extra_files=("skill_model.pt",))
    PolicyBundle.load(swapped)  # a sound bundle in itself
    with pytest.raises(BundleError, match="differs at 'joint1_pos'"):
        PolicyBundle.load(swapped, domain("kitchen").observation_names)
    assert main(["skills", "eval-prior", "--bundle", str(swapped), "--episodes", "1", "--steps", "2"]) == 2
    error = capsys.readouterr().err.strip()
    assert "differs at 'joint1_pos'" in error and len(error.splitlines()) == 1
    manifest["input_slice"] = ["joint1_pos", "joint8_pos"]
    seal(swapped, manifest, extra_files=("skill_model.pt",))
    with pytest.raises(BundleError, match="joint8_pos"):
        PolicyBundle.load(swapped)


def test_training_continues_from_a_bundles_weights_and_refuses_other_shapes(
    small_dataset, smoke_bundle, tmp_path, capsys
):
    from simpl_core.skills.train import load_skill_model

    config = yaml.safe_load((smoke_bundle.parent / "skills_kitchen_smoke.yaml").read_text())
    frozen = tmp_path / "frozen.yaml"  # lr 0: the continued weights must be the bundle's own
    frozen.write_text(
        yaml.safe_dump({**config, "learning_rate": 0.0, "lr_schedule": "constant", "select_every": 0, "steps": 2})
    )
    run = tmp_path / "continued"
    assert (
        main(
            [
                "skills",
                "train",
                "--config",
                str(frozen),
                "--dataset",
                str(small_dataset),
                "--out",
                str(run),
                "--init-from",
                str(smoke_bundle),
            ]
        )
        == 0
    )
    shipped = torch.load(smoke_bundle / "skill_model.pt", weights_only=True)
    model, _ = load_skill_model(run)
    for part in ("encoder", "decoder", "prior"):
        continued = getattr(model, part).state_dict()
        for name, value in shipped[part].items():
            if "running_" not in name and "num_batches" not in name:  # BatchNorm statistics move in train mode
                torch.testing.assert_close(continued[name], value, msg=f"{part}.{name}")
    wider = tmp_path / "wider.yaml"
    wider.write_text(yaml.safe_dump({**config, "model": {**config["model"], "hidden_dim": 48}}))
    assert (
        main(
            [
                "skills",
                "train",
                "--config",
                str(wider),
                "--dataset",
                str(small_dataset),
                "--out",
                str(tmp_path / "wider"),
                "--init-from",
                str(smoke_bundle),
            ]
        )
        == 2
    )
    assert "cannot start a model" in capsys.readouterr().err
