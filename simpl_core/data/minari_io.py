"""Read and write offline datasets in the Minari on-disk layout (HDF5) with h5py and json, without importing minari.

A dataset directory `<root>/<dataset_id>/` holds `data/main_data.hdf5` (groups `episode_0`..`episode_{N-1}`) and
`data/metadata.json`. Files written here load with `minari.load_dataset`, and minari's own datasets (D4RL included)
load here.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from gymnasium import spaces

DATA_FILE = "main_data.hdf5"
METADATA_FILE = "metadata.json"
# "0.5.0" is the newest format version that every minari 0.5.x accepts.
MINARI_FORMAT_VERSION = "0.5.0"
DATASET_ID_RE = re.compile(r"^([-_\w][-_\w/]*[-_\w]+/)?[-_\w]+?-v\d+$")
REQUIRED_METADATA_KEYS = (
    "dataset_id",
    "minari_version",
    "data_format",
    "total_episodes",
    "total_steps",
    "observation_space",
    "action_space",
)
EPISODE_ARRAYS = ("observations", "actions", "rewards", "terminations", "truncations")  # Episode's field order
# Key of the proprioceptive part of Dict observations in D4RL datasets (PointMaze, AntMaze, Kitchen).
DICT_OBSERVATION_KEY = "observation"


class DatasetError(ValueError):
    """A dataset is missing, malformed, or inconsistent."""


@dataclass
class Episode:
    """One trajectory: T actions and the T+1 observations around them (the reset obs plus one per step)."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray | None = None
    terminations: np.ndarray | None = None
    truncations: np.ndarray | None = None
    infos: dict[str, np.ndarray] = field(default_factory=dict)
    """Extra per-step arrays (Minari's `infos` group), one row per action, e.g. "executed_actions" of data whose
    `actions` are corrective labels rather than what was executed."""

    def __post_init__(self) -> None:
        try:
            self.observations = np.asarray(self.observations, dtype=np.float32)
            self.actions = np.asarray(self.actions, dtype=np.float32)
            steps = len(self.actions)
            self.rewards = np.zeros(steps) if self.rewards is None else np.asarray(self.rewards, dtype=np.float64)
            self.terminations = _flags_or_false(self.terminations, steps)
            self.truncations = _flags_or_false(self.truncations, steps)
            self.infos = {name: np.asarray(value) for name, value in self.infos.items()}
        except (TypeError, ValueError) as err:
            raise DatasetError(f"episode arrays are not numeric: {err}") from None
        self.validate()

    def validate(self) -> None:
        """Raise DatasetError unless the arrays have consistent shapes and finite values."""
        obs, act = self.observations, self.actions
        if obs.ndim != 2 or act.ndim != 2:
            raise DatasetError(f"observations and actions must be 2-D (steps, dim); got {obs.shape} and {act.shape}")
        if len(act) < 1 or len(obs) != len(act) + 1:
            raise DatasetError(
                f"an episode needs T >= 1 actions and T+1 observations; got {len(obs)} observations "
                f"for {len(act)} actions"
            )
        for name in ("rewards", "terminations", "truncations"):
            if getattr(self, name).shape != (len(act),):
                raise DatasetError(f"{name} must have shape ({len(act)},); got {getattr(self, name).shape}")
        for name, value in self.infos.items():
            if len(value) != len(act):
                raise DatasetError(f"infos[{name!r}] must have one row per action ({len(act)}); got {len(value)}")
        for name in ("observations", "actions", "rewards"):
            if not np.isfinite(getattr(self, name)).all():
                raise DatasetError(f"episode {name} contain NaN or inf values")

    @property
    def length(self) -> int:
        return len(self.actions)


def _flags_or_false(flags: np.ndarray | None, steps: int) -> np.ndarray:
    return np.zeros(steps, dtype=bool) if flags is None else np.asarray(flags).astype(bool)


@dataclass
class OfflineDataset:
    """Episodes loaded from disk, with the raw metadata and the (flat) spaces of the arrays they hold."""

    episodes: list[Episode]
    metadata: dict[str, Any]
    path: Path
    observation_space: spaces.Box | None = field(default=None, repr=False)
    action_space: spaces.Box | None = field(default=None, repr=False)

    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    @property
    def num_transitions(self) -> int:
        return sum(episode.length for episode in self.episodes)

    @property
    def observation_dim(self) -> int:
        return self.episodes[0].observations.shape[1]

    @property
    def action_dim(self) -> int:
        return self.episodes[0].actions.shape[1]


# ---------------------------------------------------------------- spaces


def serialize_space(space: spaces.Space) -> dict[str, Any]:
    """Minari's JSON form of a Box or Dict space (Box bounds as full nested lists; json writes inf as Infinity)."""
    if isinstance(space, spaces.Box):
        return {
            "type": "Box",
            "dtype": str(space.dtype),
            "shape": list(space.shape),
            "low": space.low.tolist(),
            "high": space.high.tolist(),
        }
    if isinstance(space, spaces.Dict):
        return {"type": "Dict", "subspaces": {key: serialize_space(sub) for key, sub in space.spaces.items()}}
    raise DatasetError(f"unsupported space {space}: only Box and Dict (of Box/Dict) spaces are supported")


def deserialize_space(data: dict[str, Any] | str) -> spaces.Space:
    """Inverse of `serialize_space`; also accepts the JSON string stored in metadata.json."""
    if isinstance(data, str):
        data = json.loads(data)
    kind = data.get("type") if isinstance(data, dict) else None
    try:
        if kind == "Box":
            dtype = np.dtype(data["dtype"])
            return spaces.Box(
                low=np.array(data["low"], dtype=dtype),
                high=np.array(data["high"], dtype=dtype),
                shape=tuple(data["shape"]),
                dtype=dtype,
            )
        if kind == "Dict":
            return spaces.Dict({key: deserialize_space(sub) for key, sub in data["subspaces"].items()})
    except (KeyError, TypeError, ValueError) as err:
        raise DatasetError(f"malformed {kind} space {data}: {err}") from None
    raise DatasetError(f"unsupported space type {kind!r}: only Box and Dict (of Box/Dict) spaces are supported")


def _flat_box(space: spaces.Space, what: str, where: Path) -> spaces.Box:
    if not isinstance(space, spaces.Box) or len(space.shape) != 1:
        raise DatasetError(f"{where}: the {what} space must be a 1-D Box; got {space}")
    return space


# ---------------------------------------------------------------- writing


def write_dataset(
    path: str | Path,
    episodes: Iterable[Episode],
    observation_space: spaces.Box,
    action_space: spaces.Box,
    *,
    dataset_id: str | None = None,
    description: str = "",
    algorithm_name: str = "",
    extra_metadata: dict[str, Any] | None = None,
) -> Path:
    """Write `episodes` as a Minari dataset in directory `path`, replacing any dataset there. Returns `path`.

    `extra_metadata` (e.g. author, env_spec, ref_min_score) is stored as given, except that the format keys
    written here always win.
    """
    path = Path(path)
    episodes = list(episodes)
    if not episodes:
        raise DatasetError(f"refusing to write {path}: no episodes given")
    if not dataset_id:
        dataset_id = dataset_id_for(path)  # derived and checked
    else:
        _check_dataset_id(dataset_id)
    obs_space = _flat_box(observation_space, "observation", path)
    _check_episodes_fit(episodes, obs_space, _flat_box(action_space, "action", path), path)
    metadata = {**(extra_metadata or {}), "description": description, "algorithm_name": algorithm_name}
    metadata.update(
        {
            "dataset_id": dataset_id,
            "minari_version": MINARI_FORMAT_VERSION,
            "data_format": "hdf5",
            "observation_space": json.dumps(serialize_space(observation_space)),
            "action_space": json.dumps(serialize_space(action_space)),
            "jpeg_encoding": False,
        }
    )  # without it minari JPEG-decodes uint8 image-like Boxes
    data_dir = path / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    _write_namespace_files(path, dataset_id)
    with _atomic_target(data_dir / DATA_FILE) as tmp, h5py.File(tmp, "w") as file:
        for index, episode in enumerate(episodes):
            _write_episode(file, index, episode)
    _write_metadata(data_dir, metadata, len(episodes), sum(episode.length for episode in episodes))
    return path


def append_episodes(path: str | Path, episodes: Iterable[Episode]) -> Path:
    """Add `episodes` to the dataset in `path` (e.g. a recorder saving each episode as it ends). Returns `path`.

    Only metadata.json is read, so appending stays cheap however large the dataset grows.
    """
    data_dir = _resolve_dataset_dir(path) / "data"
    episodes = list(episodes)
    metadata = _read_metadata(data_dir / METADATA_FILE)
    obs_space = _flat_box(deserialize_space(metadata["observation_space"]), "observation", data_dir)
    _check_episodes_fit(
        episodes, obs_space, _flat_box(deserialize_space(metadata["action_space"]), "action", data_dir), data_dir
    )
    first = metadata["total_episodes"]
    try:
        with h5py.File(data_dir / DATA_FILE, "r+") as file:
            for offset, episode in enumerate(episodes):
                name = f"episode_{first + offset}"
                if name in file:  # left by an append cut off before its metadata update; metadata is the truth
                    del file[name]
                _write_episode(file, first + offset, episode)
    except OSError as err:
        raise DatasetError(f"{data_dir / DATA_FILE} is truncated or not an HDF5 file: {err}") from None
    _write_metadata(
        data_dir, metadata, first + len(episodes), metadata["total_steps"] + sum(episode.length for episode in episodes)
    )
    return Path(path)


def dataset_id_for(path: str | Path) -> str:
    """The Minari id a dataset written to `path` gets (relative to MINARI_DATASETS_PATH, else the directory name),
    checked: generators call it before they spend minutes on data that could not be written."""
    path = Path(path)
    root = os.environ.get("MINARI_DATASETS_PATH")
    if root and path.resolve().is_relative_to(Path(root).resolve()):
        dataset_id = path.resolve().relative_to(Path(root).resolve()).as_posix()
    else:
        dataset_id = path.name
    _check_dataset_id(dataset_id)
    return dataset_id


def _check_dataset_id(dataset_id: str) -> None:
    if not DATASET_ID_RE.match(dataset_id):
        raise DatasetError(
            f"invalid dataset id {dataset_id!r}: Minari ids are '(namespace/)name-vN' (letters, digits, "
            "'-', '_'; '/' separates namespaces) and must end in a version, e.g. "
            "'datasets/maze-planner-v0'. Without '-vN' minari's list_local_datasets() crashes."
        )


def _check_episodes_fit(episodes: Sequence[Episode], obs_space: spaces.Box, act_space: spaces.Box, path: Path) -> None:
    for index, episode in enumerate(episodes):
        try:
            episode.validate()  # again: arrays may have been changed since construction
        except DatasetError as err:
            raise DatasetError(f"{path}: episode {index}: {err}") from None
        if episode.observations.shape[1:] != obs_space.shape or episode.actions.shape[1:] != act_space.shape:
            raise DatasetError(
                f"{path}: episode {index} has observation dim {episode.observations.shape[1]} and "
                f"action dim {episode.actions.shape[1]}, but the spaces have shapes "
                f"{obs_space.shape} and {act_space.shape}"
            )


def _write_namespace_files(path: Path, dataset_id: str) -> None:
    parts = dataset_id.split("/")
    if len(parts) < 2 or list(path.parts[-len(parts) :]) != parts:
        return  # no namespaces, or the directory does not mirror the id
    for namespace_dir in list(path.parents)[: len(parts) - 1]:
        marker = namespace_dir / "namespace_metadata.json"
        if not marker.exists():  # keep metadata minari may have put there
            marker.write_text("{}")


def _write_episode(file: h5py.File, index: int, episode: Episode) -> None:
    group = file.create_group(f"episode_{index}")
    group.attrs["id"] = np.int64(index)
    group.attrs["total_steps"] = np.int64(episode.length)  # minari needs it for filtered/split datasets
    for name in EPISODE_ARRAYS:
        group.create_dataset(name, data=getattr(episode, name), compression="gzip")
    infos = group.create_group("infos")  # even empty: without it minari's EpisodeData.infos is None
    for name, value in episode.infos.items():
        infos.create_dataset(name, data=value, compression="gzip")


def _write_metadata(data_dir: Path, metadata: dict[str, Any], total_episodes: int, total_steps: int) -> None:
    metadata = {
        **metadata,
        "total_episodes": int(total_episodes),
        "total_steps": int(total_steps),
        "dataset_size": round((data_dir / DATA_FILE).stat().st_size / 1e6, 3),
    }
    with _atomic_target(data_dir / METADATA_FILE) as tmp:
        tmp.write_text(json.dumps(metadata, indent=2))


@contextmanager
def _atomic_target(final: Path) -> Iterator[Path]:
    """Yield a temp path beside `final`, moved over `final` only if the block succeeds.

    Same directory, so os.replace is an atomic rename: an interrupted write never leaves a half-written file
    under the real name.
    """
    handle, name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------- reading


def load_dataset(path_or_id: str | Path) -> OfflineDataset:
    """Load a dataset from its directory, its `data/` directory, or a minari id under the minari datasets root.

    For Dict observations (D4RL mazes, kitchen) the episodes hold the `observation` entry.
    """
    path = _resolve_dataset_dir(path_or_id)
    metadata_path, hdf5_path = path / "data" / METADATA_FILE, path / "data" / DATA_FILE
    metadata = _read_metadata(metadata_path)
    obs_space, obs_key = deserialize_space(metadata["observation_space"]), None
    if isinstance(obs_space, spaces.Dict):
        if DICT_OBSERVATION_KEY not in obs_space.spaces:
            raise DatasetError(
                f"{metadata_path}: Dict observation space has no {DICT_OBSERVATION_KEY!r} key; "
                f"keys are {sorted(obs_space.spaces)}"
            )
        obs_space, obs_key = obs_space[DICT_OBSERVATION_KEY], DICT_OBSERVATION_KEY
    obs_space = _flat_box(obs_space, "observation", metadata_path)
    act_space = _flat_box(deserialize_space(metadata["action_space"]), "action", metadata_path)
    episodes = _read_episodes(hdf5_path, metadata["total_episodes"], obs_key)
    _check_episodes_fit(episodes, obs_space, act_space, hdf5_path)
    return OfflineDataset(episodes, metadata, path, obs_space, act_space)


def minari_datasets_root() -> Path:
    """Where minari keeps datasets: $MINARI_DATASETS_PATH, else ~/.minari/datasets."""
    return Path(os.environ.get("MINARI_DATASETS_PATH") or Path.home() / ".minari" / "datasets")


def _resolve_dataset_dir(path_or_id: str | Path) -> Path:
    candidate = Path(path_or_id).expanduser()
    if candidate.name == "data" and (candidate / METADATA_FILE).is_file():
        return candidate.parent
    tried = list(dict.fromkeys([candidate, minari_datasets_root() / str(path_or_id)]))  # an absolute path twice
    for directory in tried:
        if (directory / "data").is_dir():
            return directory
    raise DatasetError(
        f"no dataset found for {str(path_or_id)!r}: no data/ directory in "
        f"{' or '.join(map(str, tried))} (pass a dataset directory, its data/ directory, or a minari "
        "dataset id)"
    )


def _read_metadata(metadata_path: Path) -> dict[str, Any]:
    try:
        metadata = json.loads(metadata_path.read_text())
    except (OSError, ValueError) as err:
        raise DatasetError(f"{metadata_path} is missing or not valid JSON: {err}") from None
    missing = [key for key in REQUIRED_METADATA_KEYS if key not in metadata] if isinstance(metadata, dict) else ["all"]
    if missing:
        raise DatasetError(f"{metadata_path} lacks required keys {missing}")
    if metadata["data_format"] != "hdf5":
        raise DatasetError(f"{metadata_path}: data_format {metadata['data_format']!r} is not supported (only 'hdf5')")
    count = metadata["total_episodes"]
    if type(count) is not int or count < 1:  # a float breaks minari's reader, which opens f"episode_{i}"
        raise DatasetError(f"{metadata_path}: total_episodes must be a positive int; got {count!r}")
    return metadata


def _read_episodes(hdf5_path: Path, count: int, obs_key: str | None) -> list[Episode]:
    try:
        with h5py.File(hdf5_path, "r") as file:
            missing = [f"episode_{i}" for i in range(count) if f"episode_{i}" not in file]
            if missing:
                raise DatasetError(
                    f"{hdf5_path}: metadata promises {count} episodes but groups {missing[:5]} are "
                    f"missing; groups must be episode_0..episode_{count - 1} without gaps"
                )
            return [_read_episode(file[f"episode_{i}"], obs_key, f"{hdf5_path}: episode_{i}") for i in range(count)]
    except DatasetError:
        raise
    except (OSError, RuntimeError, ValueError, KeyError) as err:
        raise DatasetError(f"{hdf5_path} is truncated or not an HDF5 file: {err}") from None


def _read_episode(group: h5py.Group, obs_key: str | None, where: str) -> Episode:
    missing = [name for name in EPISODE_ARRAYS if name not in group]
    if not missing and obs_key is not None and obs_key not in group["observations"]:
        missing = [f"observations/{obs_key}"]
    if missing:
        raise DatasetError(f"{where} lacks the datasets {missing}")
    observations = group["observations"] if obs_key is None else group["observations"][obs_key]
    try:
        steps = len(group["actions"])
        # Per-action info arrays only: other writers (Minari's DataCollector) also keep nested or per-state infos.
        infos = {
            name: value[()]
            for name, value in group.get("infos", {}).items()
            if isinstance(value, h5py.Dataset) and value.shape[:1] == (steps,)
        }
        return Episode(observations[()], *(group[name][()] for name in EPISODE_ARRAYS[1:]), infos=infos)
    except DatasetError as err:
        raise DatasetError(f"{where}: {err}") from None
