"""ONNX export of one network as a bundle graph (names and shapes from GRAPH_SIGNATURES), and the git state that
provenance records. Used by the skill and the meta export alike."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from simpl_core.runtime.bundle import DYNAMIC_AXES, GRAPH_SIGNATURES, tensor_shape

ONNX_OPSET = 17
REPO = Path(__file__).resolve().parents[2]  # the checkout (or install) the code runs from


def git_state(repo: Path = REPO) -> dict:
    """Commit and dirtiness of the checkout the code runs from (None outside git)."""

    def git(*args: str) -> str | None:
        result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    return {"commit": commit, "dirty": bool(git("status", "--porcelain", "--untracked-files=no")) if commit else None}


def export_graph(
    module: nn.Module, name: str, example: tuple[torch.Tensor, ...], path: Path, dims: dict[str, int]
) -> None:
    """Export `module` as graph `name`, tensors named and shaped as in GRAPH_SIGNATURES."""
    inputs, outputs = GRAPH_SIGNATURES[name]
    dynamic = {
        tensor: {i: axis for i, axis in enumerate(axes) if axis in DYNAMIC_AXES}
        for tensor, axes in {**inputs, **outputs}.items()
    }
    with warnings.catch_warnings():  # the legacy exporter is deprecated but exact and fast for these graphs
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            example,
            str(path),
            input_names=list(inputs),
            output_names=list(outputs),
            dynamic_axes=dynamic,
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    # The exporter leaves some fixed widths symbolic (e.g. after a chunk); declare the real ones.
    graph = onnx.load(str(path))
    axes_of = {**inputs, **outputs}
    for value in [*graph.graph.input, *graph.graph.output]:
        for dim, size in zip(value.type.tensor_type.shape.dim, tensor_shape(axes_of[value.name], dims)):
            if isinstance(size, int):
                dim.dim_value = size
    onnx.checker.check_model(graph)
    onnx.save(graph, str(path))
