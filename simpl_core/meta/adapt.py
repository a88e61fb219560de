"""Target-task learning (SPEC §1 Phase 3) and the SPiRL baseline, run side by side in lock-step waves.

Each learner is one (method, task, seed). Every episode index is one wave: all learners' episodes run together in
one batched env, then each learner learns from its own episode. Every episode's return is recorded.

- SiMPL: 20 exploration episodes with the meta-trained policy and a fresh e ~ p(e) each; then e* = posterior mean
  of q(e | all their high-level transitions); then prior-regularised SAC on copies of the meta-trained policy and
  critics conditioned on e*, alpha starting at meta-training's final beta_large and only growing. The exploration
  episodes are not in the fine-tuning buffer.
- SPiRL: a fresh skill-prior-residual policy and fresh critics, prior-regularised SAC from the first episode.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from simpl_core.envs import make_vector_env
from simpl_core.rl.buffers import TransitionLayout
from simpl_core.rl.constrained_sac import ConstrainedSAC, SacConfig
from simpl_core.rl.nets import PriorResidualPolicy, QFunction
from simpl_core.rl.rollout import HighLevelEpisode, rollout_wave


@dataclass
class TargetConfig:
    episodes: int = 100                # target-task episodes per learner, exploration included
    exploration_episodes: int = 20     # SiMPL's prior-conditioned episodes before e* is fixed
    horizon: int = 2000                # env steps per episode
    simpl_sac: SacConfig = field(default_factory=lambda: SacConfig(target_kl=1.0, kl_clip=5.0,
                                                                   increasing_alpha=True))
    spirl_sac: SacConfig = field(default_factory=lambda: SacConfig(init_alpha=0.05, target_kl=1.0, kl_clip=10.0,
                                                                   increasing_alpha=False))
    spirl_hidden: int = 256            # SPiRL baseline policy / Q widths and depths (maze 3 x 256)
    spirl_layers: int = 3


class SimplLearner:
    method = "simpl"

    def __init__(self, simpl, task, seed: int, cfg: TargetConfig):
        self.simpl, self.task, self.seed, self.cfg = simpl, task, seed, cfg
        self.rng = np.random.default_rng(seed)
        self.explored: list[np.ndarray] = []
        self.e: np.ndarray | None = None
        self.sac: ConstrainedSAC | None = None

    def begin_episode(self) -> None:
        if self.sac is None:  # exploring: a fresh task-prior sample per episode
            self.e = self.rng.standard_normal((1, self.simpl.cfg.task_dim)).astype(np.float32)

    def act(self, states: np.ndarray) -> np.ndarray:
        if self.sac is not None:
            return self.sac.act(states)
        return self.simpl.sample_skills(states, np.repeat(self.e, len(states), axis=0))

    def end_episode(self, episode: HighLevelEpisode) -> None:
        if self.sac is not None:
            self.sac.observe(episode.rows)
            return
        self.explored.append(episode.rows)
        if len(self.explored) == self.cfg.exploration_episodes:
            self.start_fine_tuning()

    @torch.no_grad()
    def start_fine_tuning(self) -> None:
        context = torch.from_numpy(np.concatenate(self.explored))[None]
        e_star, _ = self.simpl.encoder(context)  # posterior mean
        sac_cfg = copy.copy(self.cfg.simpl_sac)
        sac_cfg.init_alpha = F.softplus(self.simpl.policy_post_reg).item()
        policy, critics = copy.deepcopy(self.simpl.policy).train(), copy.deepcopy(self.simpl.critics)
        self.sac = ConstrainedSAC(sac_cfg, policy, critics, self.simpl.layout, e_star, self.rng)


class SpirlLearner:
    method = "spirl"

    def __init__(self, prior, layout: TransitionLayout, task, seed: int, cfg: TargetConfig):
        self.task, self.seed = task, seed
        torch.manual_seed(seed)
        policy = PriorResidualPolicy(copy.deepcopy(prior), layout.state_dim, 0, layout.latent_dim,
                                     cfg.spirl_hidden, cfg.spirl_layers)
        q_in = layout.state_dim + layout.latent_dim
        critics = nn.ModuleList(QFunction(q_in, cfg.spirl_hidden, cfg.spirl_layers) for _ in range(2))
        self.sac = ConstrainedSAC(cfg.spirl_sac, policy, critics, layout, None, np.random.default_rng(seed))

    def begin_episode(self) -> None:
        pass

    def act(self, states: np.ndarray) -> np.ndarray:
        return self.sac.act(states)

    def end_episode(self, episode: HighLevelEpisode) -> None:
        self.sac.observe(episode.rows)


def run_target_learning(learners: list, domain: str, decode, layout: TransitionLayout, skill_horizon: int,
                        cfg: TargetConfig, progress=None) -> list[dict]:
    """Run every learner for cfg.episodes episodes; one row per (learner, episode)."""
    env = make_vector_env(domain, len(learners), max_episode_steps=cfg.horizon)
    rows = []

    def policy(states: np.ndarray, _conds) -> np.ndarray:
        return np.concatenate([learner.act(states[i:i + 1]) for i, learner in enumerate(learners)])

    for episode_index in range(cfg.episodes):
        for learner in learners:
            learner.begin_episode()
        episodes = rollout_wave(env, [learner.task for learner in learners], policy, decode, layout, skill_horizon,
                                seed=episode_index + 1000 * learners[0].seed)
        for learner, episode in zip(learners, episodes):
            learner.end_episode(episode)
            rows.append({"method": learner.method, "task": learner.task.name, "seed": learner.seed,
                         "episode": episode_index + 1, "return": episode.episode_return,
                         "success": int(episode.success), "env_steps": episode.env_steps})
        if progress is not None:
            progress(episode_index + 1, rows[-len(learners):])
    env.close()
    return rows
