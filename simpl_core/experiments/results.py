"""Per-episode returns of target-task learning as rows: the CSV they are written to and read from, merging runs,
and the statistics the paper reports (checkpoint means and their standard errors, exploration vs. after, learning)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

# the paper's checkpoint episodes per domain
CHECKPOINTS = {"maze": (20, 60, 100, 300), "kitchen": (20, 50, 100, 200)}


def write_csv(rows: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


class PartialCsv:
    """Rows appended as the workers report them, written through at once (unsorted; the whole run's returns.csv
    replaces it at the end)."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)

    def append(self, rows: list[dict]) -> None:
        new = not self.path.exists()
        with self.path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            if new:
                writer.writeheader()
            writer.writerows(rows)


def curves(rows: list[dict]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """method -> (episodes, mean, std): the mean return over all (task, seed) runs, and the std over seeds of the
    mean over tasks (the spread of the curve itself; a single episode's 0/1 return would spread ~0.4)."""
    out = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        runs: dict[tuple, dict[int, float]] = {}
        for r in rows:
            if r["method"] == method:
                runs.setdefault((r["task"], r["seed"]), {})[int(r["episode"])] = float(r["return"])
        episodes = np.array(sorted(set.intersection(*map(set, runs.values()))))  # a cut run: the ones all reached
        seeds = sorted({seed for _, seed in runs})
        per_seed = np.array(
            [[[run[e] for e in episodes] for (_, s), run in runs.items() if s == seed] for seed in seeds]
        ).mean(1)
        out[method] = (episodes, per_seed.mean(0), per_seed.std(0))
    return out


def run_means(rows: list[dict], method: str, keep) -> np.ndarray:
    """The mean return of each (task, seed) run of `method` over the episodes for which keep(episode) holds."""
    runs: dict[tuple, list[float]] = {}
    for r in rows:
        if r["method"] == method and keep(int(r["episode"])):
            runs.setdefault((r["task"], r["seed"]), []).append(float(r["return"]))
    return np.array([np.mean(returns) for returns in runs.values()])


def checkpoint_runs(rows: list[dict], domain: str, window: int = 5) -> dict[str, dict[int, np.ndarray]]:
    """method -> checkpoint of the domain -> each run's mean return around it (a centred window of `window`
    episodes, as curves are smoothed). Exploration episodes (before e* is fixed) do not count: the paper's curves
    start after them."""
    rows = [r for r in rows if r.get("phase") != "explore"]
    table = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        last = max(int(r["episode"]) for r in rows if r["method"] == method)
        table[method] = {}
        for checkpoint in CHECKPOINTS[domain]:
            values = run_means(rows, method, lambda e, c=checkpoint: abs(e - c) <= window // 2)
            if checkpoint <= last and len(values):
                table[method][checkpoint] = values
    return table


def checkpoint_table(rows: list[dict], domain: str, window: int = 5) -> dict[str, dict[int, float]]:
    """Mean return around each checkpoint episode over all runs (see checkpoint_runs)."""
    return {
        method: {c: round(float(values.mean()), 3) for c, values in points.items()}
        for method, points in checkpoint_runs(rows, domain, window).items()
    }


def standard_error(values: np.ndarray) -> float:
    """The standard error of the mean of independent runs (0 for a single run: no spread to estimate)."""
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def checkpoint_errors(rows: list[dict], domain: str, window: int = 5) -> dict[str, dict[int, float]]:
    """The standard error of each checkpoint_table mean, over its task x seed runs."""
    return {
        method: {c: round(standard_error(values), 3) for c, values in points.items()}
        for method, points in checkpoint_runs(rows, domain, window).items()
    }


def phase_table(rows: list[dict], exploration_episodes: int) -> dict[str, dict[str, float]]:
    """Mean return per method over the exploration episodes and over the episodes after them."""
    table = {}
    for method, (episodes, mean, _) in curves(rows).items():
        early, late = episodes <= exploration_episodes, episodes > exploration_episodes
        table[method] = {f"episodes 1-{exploration_episodes}": round(float(mean[early].mean()), 3)}
        if late.any():
            table[method][f"episodes {exploration_episodes + 1}-{episodes.max()}"] = round(float(mean[late].mean()), 3)
    return table


def block_table(rows: list[dict], block: int) -> dict[str, dict[str, float]]:
    """Mean return per method over each block of `block` episodes (episodes 1-20, 21-40, ... for 20)."""
    table = {}
    for method, (episodes, mean, _) in curves(rows).items():
        table[method] = {}
        for first in range(1, int(episodes.max()) + 1, block):
            inside = (episodes >= first) & (episodes < first + block)
            if inside.any():
                table[method][f"{first}-{episodes[inside].max()}"] = round(float(mean[inside].mean()), 3)
    return table


# A learner whose critic loss passes this (or is not finite) has diverged: with 0/1 or small integer rewards and
# gamma 0.99 the values stay within a few hundred, so such a loss means Q and the unbounded policy mean feed each other.
DIVERGED_CRITIC_LOSS = 1e6


def diverged(row: dict) -> bool:
    loss = float(row["critic_loss"])
    return not np.isfinite(loss) or loss > DIVERGED_CRITIC_LOSS


def learning_table(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per method, what its gradient steps did over the episodes that paid for some: updates per episode, alpha at
    the first and the last such episode, the median policy KL to the prior and critic loss (medians, so that a
    diverged learner does not hide the others), and how many learners (task, seed) diverged (blank columns: older
    CSVs)."""
    table = {}
    for method in dict.fromkeys(row["method"] for row in rows):
        learned = [r for r in rows if r["method"] == method and str(r.get("alpha", "")) != ""]
        if not learned:
            continue
        first, last = min(int(r["episode"]) for r in learned), max(int(r["episode"]) for r in learned)

        def values(key: str, episode: int | None = None) -> list[float]:
            return [float(r[key]) for r in learned if episode is None or int(r["episode"]) == episode]

        learners = {(r["task"], r["seed"]) for r in learned}
        broken = {(r["task"], r["seed"]) for r in learned if diverged(r)}
        table[method] = {
            "updates/episode": round(float(np.mean(values("updates"))), 4),
            f"alpha ep {first}": round(float(np.mean(values("alpha", first))), 4),
            f"alpha ep {last}": round(float(np.mean(values("alpha", last))), 4),
            "policy KL": round(float(np.nanmedian(values("policy_kl"))), 4),
            "critic loss": round(float(np.nanmedian(values("critic_loss"))), 4),
            "learners": len(learners),
            "diverged": len(broken),
        }
    return table


def merge_runs(runs: list[list[dict]]) -> list[dict]:
    """The rows of several runs as one (other seeds or methods); an episode of a learner in two of them is an
    error, not an average."""
    seen, merged = set(), []
    for rows in runs:
        keys = {(r["method"], r["task"], r["seed"], r["episode"]) for r in rows}
        if keys & seen:
            method, task, seed, episode = sorted(keys & seen)[0]
            raise ValueError(f"{method} on {task}, seed {seed}, episode {episode} is in two of the runs")
        seen |= keys
        merged += rows
    return merged


def label_methods(rows: list[dict], label: str) -> list[dict]:
    """The rows with every method renamed METHOD-LABEL (one method's runs on different meta-trainings, compared)."""
    return [{**r, "method": f"{r['method']}-{label}"} for r in rows]


def rows_with(rows: list[dict], column: str, wanted) -> list[dict]:
    """The rows whose `column` is one of `wanted`; a wanted value that no row has is an error."""
    wanted = set(wanted)
    if missing := wanted - {r[column] for r in rows}:
        raise ValueError(f"no rows for {column}(s) {', '.join(sorted(missing))}")
    return [r for r in rows if r[column] in wanted]


def read_csv(path: str | Path) -> list[dict]:
    with Path(path).open() as f:
        return list(csv.DictReader(f))
