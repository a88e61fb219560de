"""FIFO buffers of high-level transitions, evicting whole episodes oldest-first.

A high-level transition is one row [s, z, r, done, s'] (width 2·S + Z + 2): the same row is a task-encoder context
element and an RL sample, so both buffers share one layout.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TransitionLayout:
    state_dim: int
    latent_dim: int

    @property
    def width(self) -> int:
        return 2 * self.state_dim + self.latent_dim + 2

    def pack(self, state, z, reward, done, next_state) -> np.ndarray:
        return np.concatenate(
            [state, z, np.asarray(reward)[..., None], np.asarray(done)[..., None], next_state], axis=-1
        ).astype(np.float32)

    def unpack(self, rows):
        """The named columns of rows (a numpy array or torch tensor; no torch import, for the serving nodes)."""
        s, z = self.state_dim, self.latent_dim
        return {
            "state": rows[..., :s],
            "z": rows[..., s : s + z],
            "reward": rows[..., s + z],
            "done": rows[..., s + z + 1],
            "next_state": rows[..., s + z + 2 :],
        }


class EpisodeBuffer:
    def __init__(self, capacity: int, width: int):
        self.capacity, self.width = capacity, width
        self._episodes: deque[np.ndarray] = deque()
        self._size = 0
        self._flat: np.ndarray | None = None

    def __len__(self) -> int:
        return self._size

    def add(self, rows: np.ndarray) -> None:
        if rows.ndim != 2 or rows.shape[1] != self.width or len(rows) == 0:
            raise ValueError(f"an episode is a non-empty (T, {self.width}) array, got {rows.shape}")
        self._episodes.append(rows)
        self._size += len(rows)
        while self._size > self.capacity and len(self._episodes) > 1:
            self._size -= len(self._episodes.popleft())
        self._flat = None

    def all(self) -> np.ndarray:
        if self._flat is None:
            self._flat = np.concatenate(self._episodes) if self._episodes else np.zeros((0, self.width), np.float32)
        return self._flat

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """`count` rows drawn uniformly with replacement."""
        if self._size == 0:
            raise ValueError("cannot sample from an empty buffer")
        return self.all()[rng.integers(0, self._size, size=count)]

    def state_dict(self) -> dict:
        return {"episodes": list(self._episodes)}

    def load_state_dict(self, state: dict) -> None:
        self._episodes, self._size, self._flat = deque(), 0, None
        for rows in state["episodes"]:
            self.add(rows)
