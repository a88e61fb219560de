"""`simpl data maze` and `simpl data inspect` end to end, on a small dataset."""

import numpy as np
import pytest

from simpl_core.cli import main
from simpl_core.data.maze_planner import PlannerConfig, generate_maze_episodes
from simpl_core.data.minari_io import load_dataset
from simpl_core.data.windows import WindowSampler
from simpl_core.envs.maze.layout import MazeLayout
from simpl_core.envs.maze.model import BALL_RADIUS


def min_wall_clearance(positions: np.ndarray, layout: MazeLayout) -> float:
    """Smallest distance from a position to the surface of a wall cell (negative: inside a wall)."""
    walls = np.argwhere(layout.walls)
    gaps = np.abs(positions[:, None, :] - walls[None, :, :]) - 0.5  # per axis, to each wall cell's faces
    outside = np.linalg.norm(np.maximum(gaps, 0), axis=2)
    inside = np.minimum(gaps.max(axis=2), 0)
    return float((outside + inside).min())


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("datasets") / "maze-test-v0"
    assert main(["data", "maze", "--episodes", "8", "--num-envs", "4", "--seed", "1", "--out", str(out)]) == 0
    return out


def test_planner_runs_are_task_agnostic_and_physical(small_dataset):
    dataset = load_dataset(small_dataset)
    layout = MazeLayout.load()
    assert dataset.num_episodes == 8 and dataset.observation_dim == 4 and dataset.action_dim == 2
    for episode in dataset.episodes:
        assert len(episode.observations) == episode.length + 1
        assert np.all(episode.rewards == 0)  # no task information is stored
        assert episode.terminations[-1] and not episode.terminations[:-1].any()  # the planner reached its goal
        assert np.all(np.abs(episode.actions) <= 1)
        assert min_wall_clearance(episode.observations[:, :2], layout) > BALL_RADIUS - 0.02  # walls are solid
        assert episode.length > 20  # goals are at least a few cells away
    moved = np.concatenate([np.linalg.norm(np.diff(e.observations[:, :2], axis=0), axis=1) for e in dataset.episodes])
    assert moved.mean() > 0.02  # it travels, rather than jittering in place


def test_generation_is_deterministic():
    cfg = PlannerConfig(transitions=None, episodes=3, num_envs=2, seed=7)
    first, _ = generate_maze_episodes(cfg, progress=False)
    second, _ = generate_maze_episodes(cfg, progress=False)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.observations, b.observations)
        np.testing.assert_array_equal(a.actions, b.actions)


def test_real_minari_loads_generated_data(small_dataset, monkeypatch):
    minari = pytest.importorskip("minari")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(small_dataset.parent))
    remote = minari.load_dataset("maze-test-v0")
    ours = load_dataset(small_dataset)
    assert remote.total_episodes == 8
    assert remote.spec.env_spec.id == "simpl/Maze-v0"
    for theirs, mine in zip(remote.iterate_episodes(), ours.episodes):
        np.testing.assert_array_equal(theirs.observations, mine.observations)
        np.testing.assert_array_equal(theirs.actions, mine.actions)


def test_windows_from_generated_data(small_dataset):
    states, actions = WindowSampler(load_dataset(small_dataset), horizon=10, seed=0).sample(32)
    assert states.shape == (32, 11, 4) and actions.shape == (32, 10, 2)


def test_inspect_prints_summary_and_draws_png(small_dataset, tmp_path, capsys):
    png = tmp_path / "maze.png"
    assert main(["data", "inspect", str(small_dataset), "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "episodes     8" in out and "coverage" in out and "vx" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_existing_dataset_is_not_overwritten_by_accident(small_dataset, capsys):
    assert main(["data", "maze", "--episodes", "1", "--out", str(small_dataset)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_inspect_reports_missing_dataset(tmp_path, capsys):
    assert main(["data", "inspect", str(tmp_path / "nothing-v0")]) == 2
    assert "nothing-v0" in capsys.readouterr().err
