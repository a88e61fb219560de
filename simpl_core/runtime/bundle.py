"""Policy bundles: a directory of ONNX graphs plus manifest.yaml (dims, rates, bounds, names, sha256, provenance).

`PolicyBundle.load(dir)` refuses a bundle whose manifest is incomplete, whose files are missing or altered (sha256),
or whose graphs do not have the inputs and outputs the manifest promises. Sessions run single-threaded
(intra_op_num_threads=1), which is fastest for single samples and leaves the other cores to the control loop.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import yaml

MANIFEST = "manifest.yaml"
FORMAT = "simpl-bundle/1"
SKILL_WEIGHTS = "skill_model.pt"  # torch weights of decoder and prior (for training the high level on top) and of
# the encoder (for continuing the skill training: train-skills init_from)
META_WEIGHTS = "simpl_model.pt"  # torch weights of the meta-trained encoder, policy and critics, for adaptation
REQUIRED_KEYS = (
    "format",
    "domain",
    "dims",
    "skill_horizon",
    "control_rate_hz",
    "action_bounds",
    "observation_names",
    "action_names",
    "graphs",
    "files",
    "provenance",
)
# Graph name -> (inputs, outputs), each tensor name -> its axes: "batch" / "set" are dynamic, other names are keys
# of the manifest's `dims` (state, action, latent, task, transition).
GRAPH_SIGNATURES = {
    "skill_decoder": ({"state": ("batch", "state"), "z": ("batch", "latent")}, {"action": ("batch", "action")}),
    "skill_prior": ({"state": ("batch", "state")}, {"mean": ("batch", "latent"), "log_std": ("batch", "latent")}),
    "high_level_policy": (
        {"state": ("batch", "state"), "e": ("batch", "task")},
        {"mean": ("batch", "latent"), "log_std": ("batch", "latent")},
    ),
    "task_encoder": (
        {"context": ("batch", "set", "transition")},
        {"mean": ("batch", "task"), "std": ("batch", "task")},
    ),
}
DYNAMIC_AXES = ("batch", "set")


class BundleError(ValueError):
    """A bundle that cannot be trusted or used; the message says what is wrong."""


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tensor_shape(axes: tuple[str, ...], dims: dict[str, int]) -> list:
    """Axes names -> the manifest's shape: dynamic axes stay names, the others become their sizes."""
    return [axis if axis in DYNAMIC_AXES else dims[axis] for axis in axes]


def graph_entry(name: str, dims: dict[str, int]) -> dict:
    """The manifest's description of one graph: its file and tensor shapes."""
    inputs, outputs = GRAPH_SIGNATURES[name]
    return {
        "file": f"{name}.onnx",
        "inputs": {tensor: tensor_shape(axes, dims) for tensor, axes in inputs.items()},
        "outputs": {tensor: tensor_shape(axes, dims) for tensor, axes in outputs.items()},
    }


def seal(directory: str | Path, manifest: dict, extra_files: tuple[str, ...] = ()) -> Path:
    """Record the sha256 of every graph file (and of `extra_files`, e.g. torch weights) and write manifest.yaml."""
    directory = Path(directory)
    names = [entry["file"] for entry in manifest["graphs"].values()] + list(extra_files)
    manifest["files"] = {name: sha256_of(directory / name) for name in names}
    path = directory / MANIFEST
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _check_signature(name: str, session: ort.InferenceSession, entry: dict, where: Path) -> None:
    for kind, tensors in (("input", session.get_inputs()), ("output", session.get_outputs())):
        promised = entry[f"{kind}s"]
        actual = {t.name: t.shape for t in tensors}
        if set(actual) != set(promised):
            raise BundleError(f"{where}: graph {name} has {kind}s {sorted(actual)}, manifest says {sorted(promised)}")
        for tensor, shape in promised.items():
            fixed_ok = all(a == p for a, p in zip(actual[tensor], shape) if isinstance(p, int))
            dynamic_ok = all(not isinstance(a, int) for a, p in zip(actual[tensor], shape) if isinstance(p, str))
            if len(actual[tensor]) != len(shape) or not (fixed_ok and dynamic_ok):
                raise BundleError(
                    f"{where}: {name} {kind} {tensor!r} has shape {actual[tensor]}, manifest says {shape}"
                )


def check_observation(directory: Path, manifest: dict, observation_names: Sequence[str]) -> None:
    """One line of refusal when the env's observation layout is not the one the bundle's graphs were trained on,
    naming the first of its input-slice features that is missing or in another place."""
    expected, given = list(manifest["observation_names"]), list(observation_names)
    if expected == given:
        return
    wanted = manifest.get("input_slice", expected)
    wrong = (
        next((name for name in wanted if name not in given or given.index(name) != expected.index(name)), None)
        or "the observation size"
    )
    raise BundleError(
        f"{directory}: its skills read {len(wanted)} of a {len(expected)}-value observation, but this "
        f"env's observation has {len(given)} values and differs at {wrong!r}; use a bundle trained "
        f"on this observation layout"
    )


@dataclass
class PolicyBundle:
    directory: Path
    manifest: dict
    sessions: dict[str, ort.InferenceSession]

    @classmethod
    def load(cls, directory: str | Path, observation_names: Sequence[str] | None = None) -> "PolicyBundle":
        """The verified bundle; with `observation_names` (the env's observation layout) also refused unless its
        skills read the observation that env gives."""
        directory = Path(directory)
        manifest = cls.read_manifest(directory)
        if observation_names is not None:
            check_observation(directory, manifest, observation_names)
        cls.verify_files(directory, manifest)
        sessions = {}
        for name, entry in manifest["graphs"].items():
            path = directory / entry["file"]
            try:
                sessions[name] = _session(path)
            except Exception as err:  # onnxruntime raises its own exception types for unreadable graphs
                raise BundleError(f"{path}: onnxruntime cannot load it: {err}") from None
            _check_signature(name, sessions[name], entry, path)
        return cls(directory, manifest, sessions)

    @staticmethod
    def verify_files(directory: Path, manifest: dict) -> None:
        """Every file the manifest lists exists and has the recorded sha256; every graph is listed."""
        unlisted = [e["file"] for e in manifest["graphs"].values() if e["file"] not in manifest["files"]]
        if unlisted:
            raise BundleError(f"{directory}: graphs {unlisted} have no sha256 in the manifest")
        for name, expected in manifest["files"].items():
            path = directory / name
            if not path.is_file():
                raise BundleError(f"{directory}: {name} is missing")
            if sha256_of(path) != expected:
                raise BundleError(
                    f"{path}: sha256 does not match the manifest (file altered or replaced); re-export the bundle"
                )

    @staticmethod
    def read_manifest(directory: Path) -> dict:
        path = directory / MANIFEST
        if not path.is_file():
            raise BundleError(f"{directory} is not a policy bundle: {MANIFEST} is missing")
        try:
            manifest = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise BundleError(f"{path} is not valid YAML: {err}") from None
        missing = [k for k in REQUIRED_KEYS if not isinstance(manifest, dict) or k not in manifest]
        if missing:
            raise BundleError(f"{path} lacks {missing}")
        if manifest["format"] != FORMAT:
            raise BundleError(f"{path}: format {manifest['format']!r} is not {FORMAT!r}")
        unknown = set(manifest["graphs"]) - set(GRAPH_SIGNATURES)
        if unknown:
            raise BundleError(f"{path}: unknown graphs {sorted(unknown)}")
        stray = [name for name in manifest.get("input_slice", []) if name not in manifest["observation_names"]]
        if stray:
            raise BundleError(f"{path}: input_slice names {stray} that are not among its observation_names")
        for name, entry in manifest["graphs"].items():
            if entry != graph_entry(name, manifest["dims"]):
                raise BundleError(f"{path}: graph {name} does not match the dims {manifest['dims']}")
        return manifest

    # --- properties ----------------------------------------------------------------------------------------
    @property
    def state_dim(self) -> int:
        return self.manifest["dims"]["state"]

    @property
    def action_dim(self) -> int:
        return self.manifest["dims"]["action"]

    @property
    def latent_dim(self) -> int:
        return self.manifest["dims"]["latent"]

    @property
    def skill_horizon(self) -> int:
        return self.manifest["skill_horizon"]

    @property
    def context_size(self) -> int:
        """Transitions per large context the task encoder was meta-trained on (the set size of e* with sets)."""
        meta = self.manifest["provenance"].get("meta")
        if meta is None:
            raise BundleError(f"{self.directory} holds skills only; it has no meta-trained task encoder")
        return int(meta["config"]["post_enc_size"])

    @property
    def action_low(self) -> np.ndarray:
        return np.asarray(self.manifest["action_bounds"]["low"], dtype=np.float32)

    @property
    def action_high(self) -> np.ndarray:
        return np.asarray(self.manifest["action_bounds"]["high"], dtype=np.float32)

    # --- inference -----------------------------------------------------------------------------------------
    @staticmethod
    def _input(name: str, value, shape: list) -> np.ndarray:
        array = value if type(value) is np.ndarray and value.dtype == np.float32 else np.asarray(value, np.float32)
        if array.ndim == len(shape) - 1:
            array = array[None]  # one sample
        if array.ndim != len(shape) or array.shape[-1] != shape[-1]:
            raise ValueError(f"{name} must have shape {shape} (or without the batch axis), got {np.shape(value)}")
        if not math.isfinite(array.sum()) and not np.isfinite(array).all():  # the sum: cheap common case
            raise ValueError(f"{name} contains NaN or inf")
        return array

    def run(self, graph: str, **inputs) -> list[np.ndarray]:
        if graph not in self.sessions:
            raise BundleError(f"{self.directory} has no {graph} graph (it has {sorted(self.sessions)})")
        shapes = self.manifest["graphs"][graph]["inputs"]
        return self.sessions[graph].run(
            None, {name: self._input(name, inputs[name], shape) for name, shape in shapes.items()}
        )

    def decode(self, state, z) -> np.ndarray:
        """Closed-loop skill action(s) for state(s) and skill(s); (B, action_dim), not yet clipped."""
        return self.run("skill_decoder", state=state, z=z)[0]

    def prior(self, state) -> tuple[np.ndarray, np.ndarray]:
        """Skill prior p(z | s): mean and log-std, each (B, latent_dim)."""
        mean, log_std = self.run("skill_prior", state=state)
        return mean, log_std

    def high_level(self, state, e) -> tuple[np.ndarray, np.ndarray]:
        """pi(z | s, e): mean and log-std of the skill distribution, each (B, latent_dim)."""
        mean, log_std = self.run("high_level_policy", state=state, e=e)
        return mean, log_std

    def encode_task(self, context) -> tuple[np.ndarray, np.ndarray]:
        """q(e | c) for a set of high-level transitions (set, transition) or a batch of sets: mean and std, (sets,
        task). A batch is encoded one set at a time: the exported graph's head split is traced at one set."""
        sets = [context] if np.ndim(context) == 2 else list(context)
        mean, std = zip(*(self.run("task_encoder", context=one) for one in sets))
        return np.concatenate(mean), np.concatenate(std)

    def clip_action(self, action: np.ndarray) -> np.ndarray:
        return np.clip(action, self.action_low, self.action_high)
