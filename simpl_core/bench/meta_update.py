"""Wall-clock of SiMPL's meta-training gradient step per configuration, side by side in one run: the same bundle,
buffers full of synthetic high-level transitions (the step's cost does not depend on their values), the configs'
own network sizes, context sizes and task batches."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from simpl_core.meta.config import SimplConfig
from simpl_core.meta.simpl import Simpl
from simpl_core.rl.buffers import EpisodeBuffer
from simpl_core.rl.levels import action_level

TASKS = 40  # maze-train-40; only the number of buffers to sample task batches from


def time_updates(cfg: SimplConfig, bundle_dir: str, steps: int, seed: int = 0) -> dict:
    """Median and mean seconds of one Simpl.update over `steps` timed steps (after 2 untimed ones)."""
    torch.manual_seed(seed)
    level = action_level(cfg.actions, bundle_dir)
    simpl = Simpl(cfg, level.prior, level.layout.state_dim, level.layout.latent_dim, TASKS)
    rng = np.random.default_rng(seed)
    size = max(cfg.post_enc_size, cfg.batch_size)
    buffers = [EpisodeBuffer(size, simpl.layout.width) for _ in range(TASKS)]
    for buffer in buffers:
        buffer.add(rng.standard_normal((size, simpl.layout.width)).astype(np.float32))
    for _ in range(2):
        simpl.update(buffers, buffers, rng)
    seconds = []
    for _ in range(steps):
        started = time.perf_counter()
        simpl.update(buffers, buffers, rng)
        seconds.append(time.perf_counter() - started)
    rows = (cfg.n_prior_batch + cfg.n_post_batch) * cfg.batch_size
    return {
        "median_s": float(np.median(seconds)),
        "mean_s": float(np.mean(seconds)),
        "rl_rows": rows,
        "context_rows": cfg.n_prior_batch * cfg.prior_enc_size + cfg.n_post_batch * cfg.post_enc_size,
    }


def run(configs: list[str], bundle_dir: str, steps: int, threads: int) -> dict[str, dict]:
    torch.set_num_threads(threads)
    return {config: time_updates(SimplConfig.from_yaml(Path(config)), bundle_dir, steps) for config in configs}


def format_results(results: dict[str, dict]) -> str:
    lines = ["| config | s / update (median) | mean | RL rows | context rows |", "|---|---|---|---|---|"]
    lines += [
        f"| {name} | {r['median_s']:.3f} | {r['mean_s']:.3f} | {r['rl_rows']} | {r['context_rows']} |"
        for name, r in results.items()
    ]
    return "\n".join(lines)
