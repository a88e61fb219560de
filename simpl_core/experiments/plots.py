"""Learning curves: mean +- std over tasks and seeds per method, with a dotted line at the end of exploration."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simpl_core.experiments.results import curves


def return_label(domain: str) -> str:
    return "success rate" if domain == "maze" else "completed subtasks"


def plot_curves(rows: list[dict], path: Path, exploration_episodes: int, ylabel: str, smooth: int = 5) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    kernel = np.ones(smooth) / smooth
    for method, (episodes, mean, std) in curves(rows).items():
        if len(episodes) >= smooth:  # moving average, normalised at the edges
            weight = np.convolve(np.ones_like(mean), kernel, mode="same")
            mean, std = (np.convolve(x, kernel, mode="same") / weight for x in (mean, std))
        ax.plot(episodes, mean, label=method)
        ax.fill_between(episodes, mean - std, mean + std, alpha=0.2)
    ax.axvline(exploration_episodes, linestyle=":", color="grey")
    ax.set_xlabel("target-task episode")
    ax.set_ylabel(ylabel)
    ax.legend()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
