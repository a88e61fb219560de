"""What the batched envs share: which sub-envs a reset or a per-env setting applies to."""

from __future__ import annotations

import os

import mujoco
import numpy as np
from mujoco import rollout


def pop_reset_mask(options: dict, num_envs: int) -> np.ndarray:
    """options['reset_mask'] (removed from options), or all envs; a bad mask is refused with the expected shape."""
    mask = options.pop("reset_mask", None)
    if mask is None:
        return np.ones(num_envs, dtype=bool)
    if not (isinstance(mask, np.ndarray) and mask.dtype == np.bool_ and mask.shape == (num_envs,)):
        raise ValueError(f"options['reset_mask'] must be a bool array of shape ({num_envs},)")
    return mask


def rollout_pool(model: mujoco.MjModel, num_threads: int | None) -> tuple[list[mujoco.MjData], rollout.Rollout]:
    """Scratch data per thread and a persistent `mujoco.rollout` thread pool (2 threads by default, as this
    machine's cores)."""
    threads = num_threads or min(2, os.cpu_count() or 1)
    return [mujoco.MjData(model) for _ in range(threads)], rollout.Rollout(nthread=threads)


def per_env(values, mask: np.ndarray | None, num_envs: int) -> list[tuple[int, object]]:
    """(env index, value) pairs: one value per env where mask is True (every env without a mask)."""
    indices = np.flatnonzero(np.ones(num_envs, dtype=bool) if mask is None else mask)
    values = list(values)
    if len(values) != len(indices):
        raise ValueError(f"expected {len(indices)} values (one per env being set), got {len(values)}")
    return list(zip(indices.tolist(), values))
