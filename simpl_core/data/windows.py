"""Fixed-length windows of offline trajectories for skill training (SPiRL style).

A window starting at step t of an episode holds the K+1 states s_t..s_{t+K} and the K actions a_t..a_{t+K-1}.
All episodes are concatenated once into flat arrays, so a batch is gathered with one fancy-indexing call.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simpl_core.data.minari_io import DatasetError, Episode, OfflineDataset


class WindowSampler:
    """Samples (states, actions) windows: an episode uniformly at random, then a start uniformly within it."""

    def __init__(self, dataset_or_episodes: OfflineDataset | Sequence[Episode], horizon: int = 10, seed: int = 0):
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1; got {horizon}")
        episodes = list(
            dataset_or_episodes.episodes if isinstance(dataset_or_episodes, OfflineDataset) else dataset_or_episodes
        )
        self.episodes = [episode for episode in episodes if episode.length >= horizon]
        if not self.episodes:
            longest = max((episode.length for episode in episodes), default=0)
            raise DatasetError(
                f"no episode is long enough for windows of {horizon} actions ({horizon + 1} states): "
                f"{len(episodes)} episodes, the longest has {longest} actions"
            )
        self.horizon = horizon
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._states = np.concatenate([episode.observations for episode in self.episodes])
        self._actions = np.concatenate([episode.actions for episode in self.episodes])
        lengths = np.array([episode.length for episode in self.episodes])
        # Where each episode starts in the flat arrays; every episode has one more state than actions.
        self._state_offsets = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
        self._action_offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        self._starts_per_episode = lengths - horizon + 1

    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    @property
    def num_windows(self) -> int:
        return int(self._starts_per_episode.sum())

    def flat_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Every state and every action of the sampler's episodes (for normalisation statistics)."""
        return self._states, self._actions

    def sample(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """Return states (B, K+1, obs_dim) and actions (B, K, act_dim), both float32."""
        episode = self._rng.integers(0, self.num_episodes, size=batch_size)
        start = self._rng.integers(0, self._starts_per_episode[episode])
        state_index = (self._state_offsets[episode] + start)[:, None] + np.arange(self.horizon + 1)
        action_index = (self._action_offsets[episode] + start)[:, None] + np.arange(self.horizon)
        return self._states[state_index], self._actions[action_index]

    def split(self, val_fraction: float = 0.01, seed: int = 0) -> tuple[WindowSampler, WindowSampler]:
        """Split by episode into (train, validation) samplers, each with at least one episode."""
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1); got {val_fraction}")
        if self.num_episodes < 2:
            raise DatasetError(f"cannot split {self.num_episodes} episode into train and validation; need at least 2")
        num_val = min(max(round(self.num_episodes * val_fraction), 1), self.num_episodes - 1)
        order = np.random.default_rng(seed).permutation(self.num_episodes)
        # Sorted so that each part keeps the dataset order of its episodes.
        val_ids, train_ids = np.sort(order[:num_val]), np.sort(order[num_val:])
        train = WindowSampler([self.episodes[i] for i in train_ids], self.horizon, self.seed)
        val = WindowSampler([self.episodes[i] for i in val_ids], self.horizon, self.seed + 1)
        return train, val
