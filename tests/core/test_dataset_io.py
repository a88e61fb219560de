"""Minari-layout dataset I/O and window sampling, checked against the real minari reader and writer."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from gymnasium import spaces

from simpl_core.data.minari_io import (
    DatasetError,
    Episode,
    append_episodes,
    deserialize_space,
    load_dataset,
    serialize_space,
    write_dataset,
)
from simpl_core.data.windows import WindowSampler

OBS_SPACE = spaces.Box(-np.inf, np.inf, shape=(4,), dtype=np.float32)
ACT_SPACE = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)


def make_episode(rng: np.random.Generator, steps: int, obs_dim: int = 4, act_dim: int = 2) -> Episode:
    terminations = np.zeros(steps, dtype=bool)
    terminations[-1] = True
    return Episode(
        observations=rng.normal(size=(steps + 1, obs_dim)).astype(np.float32),
        actions=rng.uniform(-1, 1, size=(steps, act_dim)).astype(np.float32),
        rewards=rng.normal(size=steps),
        terminations=terminations,
        truncations=np.zeros(steps, dtype=bool),
    )


def make_episodes(lengths: list[int], seed: int = 0) -> list[Episode]:
    rng = np.random.default_rng(seed)
    return [make_episode(rng, steps) for steps in lengths]


@pytest.fixture
def minari_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "minari_root"
    root.mkdir()
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


def assert_same_episodes(loaded: list[Episode], expected: list[Episode]) -> None:
    assert len(loaded) == len(expected)
    for got, want in zip(loaded, expected):
        for name in ("observations", "actions", "rewards", "terminations", "truncations"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
            assert getattr(got, name).dtype == getattr(want, name).dtype


# ---------------------------------------------------------------- round trips


def test_round_trip_returns_identical_arrays(minari_root: Path) -> None:
    episodes = make_episodes([5, 7, 9])
    path = write_dataset(minari_root / "tests" / "roundtrip-v0", episodes, OBS_SPACE, ACT_SPACE)

    dataset = load_dataset(path)

    assert_same_episodes(dataset.episodes, episodes)
    assert dataset.metadata["dataset_id"] == "tests/roundtrip-v0"  # derived from the path under the root
    assert (dataset.num_episodes, dataset.num_transitions) == (3, 21)
    assert (dataset.observation_dim, dataset.action_dim) == (4, 2)
    assert (minari_root / "tests" / "namespace_metadata.json").read_text() == "{}"
    # The same dataset is found by id and through its data/ directory.
    assert_same_episodes(load_dataset("tests/roundtrip-v0").episodes, episodes)
    assert_same_episodes(load_dataset(path / "data").episodes, episodes)


def test_real_minari_loads_our_dataset(minari_root: Path) -> None:
    minari = pytest.importorskip("minari")
    episodes = make_episodes([5, 6, 7])
    write_dataset(minari_root / "tests" / "ours-v0", episodes, OBS_SPACE, ACT_SPACE, description="unit test")

    dataset = minari.load_dataset("tests/ours-v0")

    assert dataset.total_episodes == 3
    assert dataset.total_steps == 18
    assert dataset.spec.dataset_id == "tests/ours-v0"
    assert dataset.spec.observation_space == OBS_SPACE
    assert dataset.spec.action_space == ACT_SPACE
    assert "tests/ours-v0" in minari.list_local_datasets()
    for got, want in zip(dataset.iterate_episodes(), episodes, strict=True):
        np.testing.assert_array_equal(got.observations, want.observations)
        np.testing.assert_array_equal(got.actions, want.actions)
        np.testing.assert_array_equal(got.rewards, want.rewards)
        np.testing.assert_array_equal(got.terminations, want.terminations)
        assert got.observations.dtype == np.float32


def make_episode_buffer(episode: Episode, observations, seed: int):
    episode_buffer = pytest.importorskip("minari.data_collector.episode_buffer")
    return episode_buffer.EpisodeBuffer(
        observations=observations,
        actions=episode.actions,
        rewards=list(episode.rewards),
        terminations=list(episode.terminations),
        truncations=list(episode.truncations),
        infos={},
        seed=seed,
    )


def minari_write(dataset_id: str, buffers: list, observation_space: spaces.Space) -> None:
    minari = pytest.importorskip("minari")
    with warnings.catch_warnings():  # minari warns about every optional metadata field left unset
        warnings.simplefilter("ignore", UserWarning)
        minari.create_dataset_from_buffers(
            dataset_id, buffers, observation_space=observation_space, action_space=ACT_SPACE
        )


def test_we_load_a_dataset_written_by_minari(minari_root: Path) -> None:
    episodes = make_episodes([4, 8], seed=1)
    minari_write(
        "tests/by-minari-v0",
        [make_episode_buffer(ep, ep.observations, seed) for seed, ep in enumerate(episodes)],
        OBS_SPACE,
    )

    dataset = load_dataset("tests/by-minari-v0")

    assert_same_episodes(dataset.episodes, episodes)


def test_we_load_dict_observations_written_by_minari(minari_root: Path) -> None:
    """Mimics D4RL point-maze / kitchen data, whose observations are dicts with an `observation` entry."""
    rng = np.random.default_rng(2)
    episodes = [make_episode(rng, steps, obs_dim=5) for steps in (6, 3)]
    obs_space = spaces.Dict(
        {
            "observation": spaces.Box(-np.inf, np.inf, shape=(5,), dtype=np.float32),
            "desired_goal": spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32),
        }
    )
    buffers = [
        make_episode_buffer(
            ep,
            {"observation": ep.observations, "desired_goal": rng.normal(size=(ep.length + 1, 2)).astype(np.float32)},
            seed,
        )
        for seed, ep in enumerate(episodes)
    ]
    minari_write("tests/dict-obs-v1", buffers, obs_space)

    dataset = load_dataset("tests/dict-obs-v1")

    assert_same_episodes(dataset.episodes, episodes)
    assert dataset.observation_dim == 5


def test_append_episodes_is_seen_by_us_and_minari(minari_root: Path) -> None:
    minari = pytest.importorskip("minari")
    episodes = make_episodes([5, 6, 4], seed=3)
    path = write_dataset(minari_root / "appended-v0", episodes[:2], OBS_SPACE, ACT_SPACE)

    append_episodes(path, episodes[2:])

    assert_same_episodes(load_dataset(path).episodes, episodes)
    theirs = minari.load_dataset("appended-v0")
    assert (theirs.total_episodes, theirs.total_steps) == (3, 15)
    np.testing.assert_array_equal(theirs[2].observations, episodes[2].observations)


def test_spaces_serialize_exactly_like_minari() -> None:
    """Includes a nested Dict like D4RL kitchen's `achieved_goal`, and infinite Box bounds."""
    serialization = pytest.importorskip("minari.serialization")
    kitchen_like = spaces.Dict(
        {
            "observation": spaces.Box(-np.inf, np.inf, shape=(59,), dtype=np.float64),
            "achieved_goal": spaces.Dict(
                {
                    "kettle": spaces.Box(-np.inf, np.inf, shape=(7,), dtype=np.float64),
                    "microwave": spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float64),
                }
            ),
        }
    )
    for space in (OBS_SPACE, ACT_SPACE, kitchen_like):
        theirs = serialization.serialize_space(space)
        assert json.dumps(serialize_space(space)) == theirs
        assert deserialize_space(theirs) == space == serialization.deserialize_space(theirs)


# ---------------------------------------------------------------- errors


def test_missing_directory_is_reported(minari_root: Path) -> None:
    with pytest.raises(DatasetError, match="no dataset found for 'nowhere/missing-v0'"):
        load_dataset("nowhere/missing-v0")


def test_truncated_hdf5_is_reported(minari_root: Path) -> None:
    path = write_dataset(minari_root / "cut-v0", make_episodes([50, 60]), OBS_SPACE, ACT_SPACE)
    hdf5 = path / "data" / "main_data.hdf5"
    with open(hdf5, "r+b") as file:
        file.truncate(hdf5.stat().st_size // 2)

    with pytest.raises(DatasetError, match=r"main_data\.hdf5 is truncated or not an HDF5 file"):
        load_dataset(path)


def test_garbage_hdf5_is_reported(minari_root: Path) -> None:
    path = write_dataset(minari_root / "garbage-v0", make_episodes([5]), OBS_SPACE, ACT_SPACE)
    (path / "data" / "main_data.hdf5").write_bytes(np.random.default_rng(0).bytes(4096))

    with pytest.raises(DatasetError, match=r"main_data\.hdf5 is truncated or not an HDF5 file"):
        load_dataset(path)


def test_metadata_missing_a_key_is_reported(minari_root: Path) -> None:
    path = write_dataset(minari_root / "nokey-v0", make_episodes([5]), OBS_SPACE, ACT_SPACE)
    metadata_path = path / "data" / "metadata.json"
    metadata = json.loads(metadata_path.read_text())
    del metadata["action_space"]
    metadata_path.write_text(json.dumps(metadata))

    with pytest.raises(DatasetError, match=r"metadata\.json lacks required keys \['action_space'\]"):
        load_dataset(path)


def test_nan_observations_are_rejected(minari_root: Path) -> None:
    episode = make_episodes([5])[0]
    observations = episode.observations.copy()
    observations[2, 1] = np.nan
    with pytest.raises(DatasetError, match="observations contain NaN or inf"):
        Episode(observations=observations, actions=episode.actions)

    episode.observations[2, 1] = np.nan  # changed after construction: the writer checks again
    with pytest.raises(DatasetError, match=r"nan-v0: episode 0: episode observations contain NaN"):
        write_dataset(minari_root / "nan-v0", [episode], OBS_SPACE, ACT_SPACE)
    assert not (minari_root / "nan-v0" / "data" / "main_data.hdf5").exists()


def test_observations_must_be_one_longer_than_actions() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(DatasetError, match="T\\+1 observations; got 5 observations for 5 actions"):
        Episode(observations=rng.normal(size=(5, 4)), actions=rng.normal(size=(5, 2)))


def test_gap_in_episode_groups_is_reported(minari_root: Path) -> None:
    path = write_dataset(minari_root / "gap-v0", make_episodes([5, 5, 5]), OBS_SPACE, ACT_SPACE)
    with h5py.File(path / "data" / "main_data.hdf5", "r+") as file:
        file.move("episode_1", "episode_7")

    with pytest.raises(DatasetError, match=r"groups \['episode_1'\] are missing"):
        load_dataset(path)


def test_inconsistent_dims_between_episodes_are_reported(minari_root: Path) -> None:
    path = write_dataset(minari_root / "dims-v0", make_episodes([5, 5]), OBS_SPACE, ACT_SPACE)
    with h5py.File(path / "data" / "main_data.hdf5", "r+") as file:
        del file["episode_1/observations"]
        file["episode_1/observations"] = np.zeros((6, 3), dtype=np.float32)

    with pytest.raises(DatasetError, match="episode 1 has observation dim 3 and action dim 2, but the spaces"):
        load_dataset(path)


def test_dataset_id_without_version_is_rejected(minari_root: Path) -> None:
    with pytest.raises(DatasetError, match=r"must end in a version, e\.g\. 'datasets/maze-planner-v0'"):
        write_dataset(minari_root / "maze-planner", make_episodes([5]), OBS_SPACE, ACT_SPACE)


def test_dict_observations_without_observation_key_are_rejected(minari_root: Path) -> None:
    episode = make_episodes([3])[0]
    buffer = make_episode_buffer(episode, {"position": episode.observations}, seed=0)
    minari_write("no-observation-v0", [buffer], spaces.Dict({"position": OBS_SPACE}))

    with pytest.raises(DatasetError, match=r"no 'observation' key; keys are \['position'\]"):
        load_dataset("no-observation-v0")


# ---------------------------------------------------------------- windows


def find_window(episodes: list[Episode], states: np.ndarray, actions: np.ndarray) -> bool:
    """True if (states, actions) is a contiguous slice s_t..s_t+K, a_t..a_t+K-1 of one episode."""
    horizon = len(actions)
    for episode in episodes:
        for start in range(episode.length - horizon + 1):
            if np.array_equal(episode.observations[start : start + horizon + 1], states) and np.array_equal(
                episode.actions[start : start + horizon], actions
            ):
                return True
    return False


def test_windows_have_the_right_shapes_and_are_contiguous_slices() -> None:
    episodes = make_episodes([12, 30, 10, 25])
    sampler = WindowSampler(episodes, horizon=10, seed=0)

    states, actions = sampler.sample(64)

    assert states.shape == (64, 11, 4) and actions.shape == (64, 10, 2)
    assert states.dtype == np.float32 and actions.dtype == np.float32
    assert sampler.num_windows == 3 + 21 + 1 + 16
    assert all(find_window(episodes, s, a) for s, a in zip(states, actions))


def test_windows_skip_short_episodes_and_fail_when_all_are_short() -> None:
    episodes = make_episodes([9, 15, 3])
    sampler = WindowSampler(episodes, horizon=10)
    assert sampler.num_episodes == 1 and sampler.num_windows == 6
    states, actions = sampler.sample(32)
    assert all(find_window(episodes[1:2], s, a) for s, a in zip(states, actions))

    with pytest.raises(DatasetError, match="3 episodes, the longest has 9 actions"):
        WindowSampler(make_episodes([9, 5, 3]), horizon=10)


def test_windows_are_deterministic_given_the_seed() -> None:
    episodes = make_episodes([20, 40, 15])
    first = WindowSampler(episodes, horizon=5, seed=7).sample(16)
    second = WindowSampler(episodes, horizon=5, seed=7).sample(16)
    other = WindowSampler(episodes, horizon=5, seed=8).sample(16)

    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], other[0])


def test_split_gives_disjoint_episode_sets() -> None:
    episodes = make_episodes([12 + i for i in range(20)])
    sampler = WindowSampler(episodes, horizon=10)

    train, val = sampler.split(val_fraction=0.2, seed=1)
    again_train, _ = sampler.split(val_fraction=0.2, seed=1)

    train_ids = {id(episode) for episode in train.episodes}
    val_ids = {id(episode) for episode in val.episodes}
    assert (len(train_ids), len(val_ids)) == (16, 4)
    assert not train_ids & val_ids
    assert train_ids | val_ids == {id(episode) for episode in episodes}
    assert [id(e) for e in again_train.episodes] == [id(e) for e in train.episodes]
    tiny_train, tiny_val = WindowSampler(episodes[:2], horizon=10).split(val_fraction=0.01)
    assert (tiny_train.num_episodes, tiny_val.num_episodes) == (1, 1)


def test_sampler_accepts_a_loaded_dataset(minari_root: Path) -> None:
    episodes = make_episodes([15, 20])
    dataset = load_dataset(write_dataset(minari_root / "windows-v0", episodes, OBS_SPACE, ACT_SPACE))

    states, actions = WindowSampler(dataset, horizon=10, seed=3).sample(8)

    assert all(find_window(episodes, s, a) for s, a in zip(states, actions))
