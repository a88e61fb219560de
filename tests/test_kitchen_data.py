"""`simpl data kitchen` and `simpl data inspect` on kitchen data, end to end on a small scripted-teleop dataset."""

import json

import minari
import numpy as np
import pytest
import yaml

from simpl_core.cli import main
from simpl_core.data.inspect import dataset_domain, kitchen_coverage, subtask_order, subtask_orders
from simpl_core.data.minari_io import OfflineDataset, load_dataset
from simpl_core.envs.kitchen.task import SUBTASKS
from simpl_core.meta.benchmark import read_csv
from simpl_core.paths import resource
from simpl_core.runtime.bundle import PolicyBundle


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("datasets") / "kitchen-test-v0"
    assert main(["data", "kitchen", "--episodes", "3", "--subtasks", "1", "--workers", "1", "--seed", "2",
                 "--out", str(out)]) == 0
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


@pytest.fixture(scope="module")
def smoke_bundle(small_dataset, tmp_path_factory):
    """Kitchen skills on the smoke configuration, exported: a bundle in seconds."""
    root = tmp_path_factory.mktemp("kitchen_skills")
    smoke = yaml.safe_load(resource("config", "skills_smoke.yaml").read_text())
    config = root / "skills_kitchen_smoke.yaml"
    config.write_text(yaml.safe_dump({**smoke, "domain": "kitchen"}))
    run, bundle = root / "skills", root / "bundle"
    assert main(["train-skills", "--config", str(config), "--dataset", str(small_dataset), "--out", str(run)]) == 0
    assert main(["export", "--skills", str(run), "--out", str(bundle)]) == 0
    return bundle


def test_eval_prior_reports_what_the_kitchen_prior_completes(smoke_bundle):
    assert main(["eval-prior", "--bundle", str(smoke_bundle), "--episodes", "3", "--steps", "20"]) == 0
    report = json.loads((smoke_bundle / "prior_report.json").read_text())
    assert report["episodes"] == 3 and report["steps_per_episode"] == 20
    assert set(report["subtask_rate"]) == set(SUBTASKS) and sum(report["common_orders"].values()) == 3


def test_eval_skills_replays_demonstrations_open_loop_and_through_the_skills(small_dataset, smoke_bundle, tmp_path):
    skills, out = smoke_bundle.parent / "skills", tmp_path / "replay.json"
    assert main(["eval-skills", "--skills", str(skills), "--dataset", str(small_dataset), "--episodes", "3",
                 "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    demos = load_dataset(small_dataset).episodes
    assert report["episodes"] == 3 and report["dataset_episodes"] == [0, 1, 2]
    for subtask, counts in report["episodes_completing"].items():
        assert counts["demonstration"] == sum(subtask in subtask_order(e.observations) for e in demos)
    assert report["subtasks_per_episode"]["demonstration"] >= 1
    # the recorded actions replayed from a fresh reset (other noise) retrace the recording at first
    assert report["arm_gap_rad"]["open-loop actions"]["10"] < 0.05
    assert set(report["arm_gap_rad"]["skills, closed loop"]) == {"10", "50", "100", "200"}
    assert main(["eval-skills", "--skills", str(skills), "--dataset", str(tmp_path / "none")]) == 2


@pytest.fixture(scope="module")
def kitchen_tasks(tmp_path_factory):
    tasks = tmp_path_factory.mktemp("kitchen_tasks") / "tasks.yaml"
    tasks.write_text('domain: kitchen\ntask_sets:\n  two: ["microwave,kettle,light switch,slide cabinet", '
                     '"kettle,microwave,top burner,hinge cabinet"]\n')
    return tasks


@pytest.fixture(scope="module")
def meta_bundle(smoke_bundle, kitchen_tasks, tmp_path_factory):
    """The smoke skills bundle with SiMPL meta-trained on two kitchen sequences (smoke configuration) added."""
    root = tmp_path_factory.mktemp("kitchen_meta")
    smoke = yaml.safe_load(resource("config", "simpl_smoke.yaml").read_text())
    config, run = root / "simpl_kitchen_smoke.yaml", root / "meta"
    config.write_text(yaml.safe_dump({**smoke, "domain": "kitchen", "horizon": 20}))
    assert main(["meta-train", "--config", str(config), "--bundle", str(smoke_bundle), "--tasks",
                 str(kitchen_tasks), "--out", str(run)]) == 0
    assert main(["export", "--meta", str(run), "--out", str(smoke_bundle)]) == 0
    return smoke_bundle


def test_simpl_meta_trains_on_kitchen_sequences(meta_bundle):
    bundle = PolicyBundle.load(meta_bundle)
    assert {"high_level_policy", "task_encoder"} <= set(bundle.sessions) and bundle.manifest["dims"]["state"] == 59


def test_kitchen_target_learning_runs_the_kitchen_protocol(meta_bundle, kitchen_tasks, tmp_path):
    out = tmp_path / "bench"
    assert main(["bench", "sample-efficiency", "--domain", "kitchen", "--bundle", str(meta_bundle), "--tasks",
                 f"{kitchen_tasks}:two", "--methods", "simpl,spirl", "--episodes", "2", "--seeds", "1",
                 "--workers", "1", "--out", str(out)]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["domain"] == "kitchen" and run["target_config"]["horizon"] == 280  # the paper's kitchen values
    assert run["target_config"]["simpl_sac"]["target_kl"] == 5.0 and run["target_config"]["scratch_layers"] == 5
    rows = read_csv(out / "returns.csv")
    assert len(rows) == 2 * 2 * 2  # methods x tasks x episodes
    assert all(0 <= float(r["return"]) <= 4 for r in rows)  # completed subtasks


def test_shipped_kitchen_skills_bundle_verifies_and_runs():
    bundle = PolicyBundle.load(resource("models", "kitchen"))
    assert bundle.manifest["domain"] == "kitchen" and bundle.manifest["provenance"]["git"]["commit"]
    assert bundle.manifest["provenance"]["skills"]["dataset"] == "datasets/kitchen-teleop-v0"
    z = np.zeros((1, bundle.latent_dim), np.float32)
    assert bundle.decode(np.zeros(59, np.float32), z).shape == (1, 9)
    report = json.loads(resource("models", "kitchen", "prior_report.json").read_text())
    assert report["episodes"] == 100 and set(report["subtask_rate"]) == set(SUBTASKS)
