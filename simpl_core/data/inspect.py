"""`simpl data inspect`: what is in an offline dataset, in numbers, and drawn: maze trajectories on the map,
kitchen subtask coverage (which subtasks the episodes complete, read from the object joints in the observations)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from simpl_core.data.minari_io import OfflineDataset
from simpl_core.envs.domains import DOMAINS
from simpl_core.envs.kitchen.env import qpos_from_observation
from simpl_core.envs.kitchen.task import SUBTASKS, completed_subtasks
from simpl_core.envs.maze.env import DEFAULT_START
from simpl_core.envs.maze.layout import MazeLayout

# Env ids (namespace and version stripped) whose datasets have each domain's layout; D4RL's kitchen data included.
DOMAIN_ENV_NAMES = {"maze": ("Maze",), "kitchen": ("Kitchen", "FrankaKitchen")}


def dataset_env_id(dataset: OfflineDataset) -> str | None:
    """The env id recorded in the dataset's env_spec, if any."""
    spec = dataset.metadata.get("env_spec")
    return json.loads(spec).get("id") if isinstance(spec, str) else None


def dataset_domain(dataset: OfflineDataset) -> str | None:
    """ "maze" or "kitchen" from the recorded env id, else from the observation size; None if neither."""
    env_id = dataset_env_id(dataset)
    if env_id:
        name = env_id.split("/")[-1].rsplit("-v", 1)[0]
        return next((domain for domain, names in DOMAIN_ENV_NAMES.items() if name in names), None)
    return next((name for name, spec in DOMAINS.items() if spec.state_dim == dataset.observation_dim), None)


def _range_rows(values: np.ndarray, names) -> list[str]:
    rows = []
    width = max((len(name) for name in names), default=6) if names else 6
    for i in range(values.shape[1]):
        name = names[i] if names and i < len(names) else f"[{i}]"
        column = values[:, i]
        rows.append(
            f"    {name:>{width}s}  min {column.min():9.3f}  max {column.max():9.3f}  "
            f"mean {column.mean():9.3f}  std {column.std():8.3f}"
        )
    return rows


def maze_coverage(dataset: OfflineDataset, layout: MazeLayout) -> float:
    """Fraction of the maze's reachable cells that some observation falls in."""
    cells = np.concatenate([np.rint(ep.observations[:, :2]).astype(int) for ep in dataset.episodes])
    reachable = {tuple(c) for c in layout.reachable_cells(DEFAULT_START)}
    visited = {tuple(c) for c in np.unique(cells, axis=0)} & reachable
    return len(visited) / len(reachable)


def subtask_order(observations: np.ndarray) -> list[str]:
    """The kitchen subtasks an episode completes, in the order they first become complete."""
    order: list[str] = []
    for observation in observations:
        order += sorted(completed_subtasks(qpos_from_observation(observation)) - set(order))
    return order


def subtask_orders(dataset: OfflineDataset) -> list[list[str]]:
    """Every episode's subtask_order (seconds for a few hundred episodes: compute once, pass around)."""
    return [subtask_order(episode.observations) for episode in dataset.episodes]


def kitchen_coverage(orders: list[list[str]]) -> dict[str, int]:
    """Episodes that complete each subtask."""
    return {name: sum(name in order for order in orders) for name in SUBTASKS}


def summarize(dataset: OfflineDataset) -> str:
    lengths = np.array([ep.length for ep in dataset.episodes])
    terminated = sum(bool(ep.terminations[-1]) for ep in dataset.episodes)
    domain = dataset_domain(dataset)
    spec = DOMAINS.get(domain)
    lines = [
        f"dataset      {dataset.metadata.get('dataset_id', '?')}  ({dataset.path})",
        f"episodes     {dataset.num_episodes}  ({terminated} terminated, "
        f"{dataset.num_episodes - terminated} truncated)",
        f"transitions  {dataset.num_transitions}",
        f"length       min {lengths.min()}  median {int(np.median(lengths))}  mean {lengths.mean():.1f}  "
        f"max {lengths.max()}",
        f"observation  {dataset.observation_dim}-D",
        *_range_rows(
            np.concatenate([ep.observations for ep in dataset.episodes]), spec.observation_names if spec else None
        ),
        f"action       {dataset.action_dim}-D",
        *_range_rows(np.concatenate([ep.actions for ep in dataset.episodes]), spec.action_names if spec else None),
    ]
    if domain == "maze":
        lines.append(
            f"coverage     {maze_coverage(dataset, MazeLayout.load()):.1%} of the maze's reachable cells visited"
        )
    return "\n".join(lines)


def plot_maze_trajectories(
    trajectories: list[np.ndarray],
    out_png: str | Path,
    title: str,
    layout: MazeLayout | None = None,
    goals: dict[str, list] | None = None,
) -> Path:
    """Draw trajectories ((T, >=2) arrays of x, y, ...) over the maze walls; starts green, ends red.
    `goals` optionally marks named sets of goal cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layout = layout or MazeLayout.load()
    rows, cols = layout.shape
    fig, ax = plt.subplots(figsize=(7, 7))
    # Rows are x (downwards), columns are y, as in the layout text.
    ax.imshow(layout.walls, cmap="Greys", vmin=0, vmax=1.5, origin="upper", extent=(-0.5, cols - 0.5, rows - 0.5, -0.5))
    colours = plt.cm.viridis(np.linspace(0, 1, max(len(trajectories), 1)))
    for trajectory, colour in zip(trajectories, colours):
        x, y = trajectory[:, 0], trajectory[:, 1]
        ax.plot(y, x, color=colour, linewidth=0.6, alpha=0.7)
        ax.plot(y[0], x[0], "o", color="tab:green", markersize=2.5)
        ax.plot(y[-1], x[-1], "x", color="tab:red", markersize=3)
    for (name, cells), marker in zip((goals or {}).items(), "*sD^vP"):
        cells = np.asarray(cells)
        ax.plot(cells[:, 1], cells[:, 0], marker, linestyle="none", markersize=7, markerfacecolor="none", label=name)
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


def plot_kitchen_coverage(dataset: OfflineDataset, orders: list[list[str]], out_png: str | Path) -> Path:
    """Three panels: episodes completing each subtask, subtasks completed per episode, episode lengths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = kitchen_coverage(orders)
    fig, (by_subtask, per_episode, lengths) = plt.subplots(1, 3, figsize=(15, 4))
    by_subtask.barh(list(counts), list(counts.values()), color="tab:blue")
    by_subtask.invert_yaxis()
    by_subtask.set_xlabel("episodes that complete it")
    by_subtask.set_title("subtask coverage")
    done = [len(order) for order in orders]
    per_episode.hist(done, bins=np.arange(len(SUBTASKS) + 2) - 0.5, color="tab:green", rwidth=0.9)
    per_episode.set_xlabel("subtasks completed in the episode")
    per_episode.set_title(f"{len({tuple(order) for order in orders})} distinct completion orders")
    lengths.hist([episode.length for episode in dataset.episodes], bins=30, color="tab:gray")
    lengths.set_xlabel("episode length (env steps)")
    lengths.set_title(f"{dataset.num_episodes} episodes, {dataset.num_transitions} transitions")
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return out_png
