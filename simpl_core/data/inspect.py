"""`simpl data inspect`: what is in an offline dataset, in numbers and (for the maze) drawn on the map."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from simpl_core.data.minari_io import OfflineDataset
from simpl_core.envs.maze.env import ACTION_NAMES, DEFAULT_START, OBSERVATION_NAMES
from simpl_core.envs.maze.layout import MazeLayout

MAZE_ENV_IDS = ("simpl/Maze-v0",)


def dataset_env_id(dataset: OfflineDataset) -> str | None:
    """The env id recorded in the dataset's env_spec, if any."""
    spec = dataset.metadata.get("env_spec")
    return json.loads(spec).get("id") if isinstance(spec, str) else None


def is_maze(dataset: OfflineDataset) -> bool:
    env_id = dataset_env_id(dataset)
    return env_id in MAZE_ENV_IDS if env_id else dataset.observation_dim == len(OBSERVATION_NAMES)


def _range_rows(values: np.ndarray, names) -> list[str]:
    rows = []
    for i in range(values.shape[1]):
        name = names[i] if names and i < len(names) else f"[{i}]"
        column = values[:, i]
        rows.append(f"    {name:>10s}  min {column.min():9.3f}  max {column.max():9.3f}  "
                    f"mean {column.mean():9.3f}  std {column.std():8.3f}")
    return rows


def maze_coverage(dataset: OfflineDataset, layout: MazeLayout) -> float:
    """Fraction of the maze's reachable cells that some observation falls in."""
    cells = np.concatenate([np.rint(ep.observations[:, :2]).astype(int) for ep in dataset.episodes])
    reachable = {tuple(c) for c in layout.reachable_cells(DEFAULT_START)}
    visited = {tuple(c) for c in np.unique(cells, axis=0)} & reachable
    return len(visited) / len(reachable)


def summarize(dataset: OfflineDataset) -> str:
    lengths = np.array([ep.length for ep in dataset.episodes])
    terminated = sum(bool(ep.terminations[-1]) for ep in dataset.episodes)
    maze = is_maze(dataset)
    lines = [
        f"dataset      {dataset.metadata.get('dataset_id', '?')}  ({dataset.path})",
        f"episodes     {dataset.num_episodes}  ({terminated} terminated, {dataset.num_episodes - terminated} truncated)",
        f"transitions  {dataset.num_transitions}",
        f"length       min {lengths.min()}  median {int(np.median(lengths))}  mean {lengths.mean():.1f}  "
        f"max {lengths.max()}",
        f"observation  {dataset.observation_dim}-D",
        *_range_rows(np.concatenate([ep.observations for ep in dataset.episodes]), OBSERVATION_NAMES if maze else None),
        f"action       {dataset.action_dim}-D",
        *_range_rows(np.concatenate([ep.actions for ep in dataset.episodes]), ACTION_NAMES if maze else None),
    ]
    if maze:
        lines.append(f"coverage     {maze_coverage(dataset, MazeLayout.load()):.1%} of the maze's reachable cells visited")
    return "\n".join(lines)


def plot_maze_trajectories(trajectories: list[np.ndarray], out_png: str | Path, title: str,
                           layout: MazeLayout | None = None, goals: dict[str, list] | None = None) -> Path:
    """Draw trajectories ((T, >=2) arrays of x, y, ...) over the maze walls; starts green, ends red.
    `goals` optionally marks named sets of goal cells."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layout = layout or MazeLayout.load()
    rows, cols = layout.shape
    fig, ax = plt.subplots(figsize=(7, 7))
    # Rows are x (downwards), columns are y, as in the layout text.
    ax.imshow(layout.walls, cmap="Greys", vmin=0, vmax=1.5, origin="upper",
              extent=(-0.5, cols - 0.5, rows - 0.5, -0.5))
    colours = plt.cm.viridis(np.linspace(0, 1, max(len(trajectories), 1)))
    for trajectory, colour in zip(trajectories, colours):
        x, y = trajectory[:, 0], trajectory[:, 1]
        ax.plot(y, x, color=colour, linewidth=0.6, alpha=0.7)
        ax.plot(y[0], x[0], "o", color="tab:green", markersize=2.5)
        ax.plot(y[-1], x[-1], "x", color="tab:red", markersize=3)
    for (name, cells), marker in zip((goals or {}).items(), "*sD^vP"):
        cells = np.asarray(cells)
        ax.plot(cells[:, 1], cells[:, 0], marker, linestyle="none", markersize=7, markerfacecolor="none",
                label=name)
    if goals:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.set_xlabel("y (column)")
    ax.set_ylabel("x (row)")
    ax.set_title(title)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out_png
