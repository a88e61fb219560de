"""Target-task learning and the baselines, run side by side in lock-step waves.

Each learner is one (method, task, seed). Every episode index is one wave: all learners of one action level run
their episodes together in one batched env, then each learner learns from its own episode. Every episode's return
is recorded.

- SiMPL: 20 exploration episodes with the meta-trained policy and a fresh e ~ p(e) each; then e* = posterior mean
  of q(e | all their high-level transitions) (or, with e_star_sets, of training-sized sets of them); then
  prior-regularised SAC on copies of the meta-trained policy and critics conditioned on e*, alpha starting at
  meta-training's final beta_large and only growing. The exploration episodes are not in the fine-tuning buffer.
- PEARL-ft: the same protocol on a PEARL meta-training run (primitive actions, no skills, no offline data).
- PEARL: the same exploration and e*, then the meta-trained policy conditioned on e* without further learning.
- MTRL: the multi-task policy (told the task id during training) has nothing to infer a new task from: no
  exploration phase; it is fine-tuned like SiMPL from the first episode, conditioned on the mean training-task
  embedding.
- SPiRL: a fresh skill-prior-residual policy and fresh critics, prior-regularised SAC from the first episode.
- SAC: the same SAC on primitive actions from scratch, regularised toward N(0, I) instead of a skill prior.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from simpl_core.envs import make_vector_env
from simpl_core.export.meta import export_adapted_policy, load_bundle_meta
from simpl_core.paths import resource
from simpl_core.rl.constrained_sac import ConstrainedSAC, SacConfig
from simpl_core.rl.levels import ActionLevel, action_level
from simpl_core.rl.nets import PriorResidualPolicy, QFunction, TaskEmbedding
from simpl_core.rl.rollout import HighLevelEpisode, rollout_wave
from simpl_core.runs import config_from_yaml
from simpl_core.runtime.protocol import EXPLORATION_EPISODES


@dataclass
class TargetConfig:
    episodes: int = 100
    """target-task episodes per learner, exploration included"""
    exploration_episodes: int = EXPLORATION_EPISODES
    """episodes with e ~ p(e) before e* is fixed (SiMPL, PEARL)"""
    e_star_sets: int = 0
    """0: e* = the posterior mean of q(e | every exploration transition), as the paper; K: the mean over K sets of the
    meta-training context size drawn from them, so the encoder sees sets of the size it trained on"""
    horizon: int = 2000
    """env steps per episode"""
    simpl_sac: SacConfig = field(default_factory=lambda: SacConfig(target_kl=1.0, kl_clip=5.0, increasing_alpha=True))
    """SAC of SiMPL's fine-tuning, conditioned on e* (alpha only grows, as in meta-training)"""
    spirl_sac: SacConfig = field(
        default_factory=lambda: SacConfig(init_alpha=0.05, target_kl=1.0, kl_clip=10.0, increasing_alpha=False)
    )
    """SAC of SPiRL: skills and their prior, no meta-training"""
    sac_sac: SacConfig = field(
        default_factory=lambda: SacConfig(init_alpha=0.1, target_kl=1.0, kl_clip=10.0, increasing_alpha=False)
    )
    """SAC on primitive actions (the flat SAC baseline)"""
    scratch_hidden: int = 256
    """SPiRL / SAC policy and Q widths and depths (maze 3 x 256)"""
    scratch_layers: int = 3
    """... and depth (kitchen 5 x 128)"""
    primitive_updates_per_transition: float = 0.1
    """Gradient steps per primitive transition (flat SAC, PEARL-ft). CPU protocol: 0.1 gives a failing 2000-step episode
    the same 200 updates a failing skill-level episode gets (1 per high-level transition)."""

    @classmethod
    def for_domain(cls, domain: str, **overrides) -> "TargetConfig":
        """The paper's target-learning values of a domain: config/target_DOMAIN.yaml over the defaults above."""
        try:
            path = resource("config", f"target_{domain}.yaml")
        except FileNotFoundError:
            raise ValueError(f"no target-learning values for domain {domain!r} (maze, kitchen)") from None
        return cls.from_yaml(path, **overrides)

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides) -> "TargetConfig":
        return dataclasses.replace(config_from_yaml(cls, path), **overrides)

    def __post_init__(self):
        # a SAC section read from YAML, run.json or a bundle manifest is a mapping
        for name in ("simpl_sac", "spirl_sac", "sac_sac"):
            if isinstance(getattr(self, name), dict):
                setattr(self, name, SacConfig(**getattr(self, name)))


def level_sac(cfg: SacConfig, target: TargetConfig, level: ActionLevel) -> SacConfig:
    """A copy of `cfg` with the update ratio of the learner's action level."""
    cfg = copy.copy(cfg)
    if level.name == "primitive":
        cfg.updates_per_transition = target.primitive_updates_per_transition
    return cfg


UPDATE_COLUMNS = ("updates", "alpha", "policy_kl", "critic_loss")  # per episode in returns.csv: what learning did


def update_summary(updates: list[dict]) -> dict:
    """An episode's gradient steps in four numbers: how many, and the mean alpha, policy KL and critic loss (blank
    when the episode paid for none, e.g. while exploring or filling the buffer)."""
    if not updates:
        return {"updates": 0, **{key: "" for key in UPDATE_COLUMNS[1:]}}
    return {
        "updates": len(updates),
        **{key: round(float(np.mean([u[key] for u in updates])), 6) for key in UPDATE_COLUMNS[1:]},
    }


class MetaLearner:
    """SiMPL (and PEARL-ft) with `fine_tune`, PEARL without: explore with e ~ p(e), encode e*, then act with e*.
    MTRL (a task-id-conditioned run) starts at once from the mean training-task embedding."""

    def __init__(
        self, method: str, simpl, level: ActionLevel, task, seed: int, cfg: TargetConfig, fine_tune: bool = True
    ):
        self.method, self.simpl, self.level, self.task, self.seed, self.cfg = method, simpl, level, task, seed, cfg
        self.fine_tune = fine_tune
        self.rng = np.random.default_rng(seed)
        self.explored: list[np.ndarray] = []
        self.e: np.ndarray | None = None
        self.e_star: np.ndarray | None = None
        self.sac: ConstrainedSAC | None = None
        self.last_updates = update_summary([])
        if isinstance(simpl.encoder, TaskEmbedding):
            self.start(simpl.encoder.mean.detach().mean(0, keepdim=True).numpy())

    @property
    def phase(self) -> str:
        return "explore" if self.e_star is None else "learn"

    def begin_episode(self) -> None:
        if self.e_star is None:  # exploring: a fresh task-prior sample per episode
            self.e = self.rng.standard_normal((1, self.simpl.cfg.task_dim)).astype(np.float32)

    def act(self, states: np.ndarray) -> np.ndarray:
        if self.sac is not None:
            return self.sac.act(states)
        return self.simpl.sample_skills(states, np.repeat(self.e, len(states), axis=0))

    def end_episode(self, episode: HighLevelEpisode) -> None:
        if self.sac is not None:
            self.last_updates = update_summary(self.sac.observe(episode.rows))
        elif self.e_star is None:
            self.explored.append(episode.rows)
            if len(self.explored) == self.cfg.exploration_episodes:
                self.start(self.encode())

    def encode(self) -> np.ndarray:
        """e* from the exploration transitions (the posterior mean of q(e | all of them), or cfg.e_star_sets)."""
        return self.simpl.posterior(self.explored, self.cfg.e_star_sets, self.rng)[0][None]

    def start(self, e_star: np.ndarray) -> None:
        """Fix e*; with fine-tuning, SAC on copies of the meta-trained policy and critics conditioned on it."""
        self.e_star = self.e = e_star
        if self.fine_tune:
            self.sac = fine_tuning_sac(self.simpl, self.level, e_star, self.cfg, self.rng)


def fine_tuning_sac(
    simpl, level: ActionLevel, e_star: np.ndarray, cfg: TargetConfig, rng: np.random.Generator
) -> ConstrainedSAC:
    """SiMPL's target-task learner: prior-regularised SAC on copies of the meta-trained policy and critics, all
    conditioned on e*, alpha starting at meta-training's final beta_large (and, by cfg, only growing)."""
    sac_cfg = level_sac(cfg.simpl_sac, cfg, level)
    sac_cfg.init_alpha = F.softplus(simpl.policy_post_reg).item()
    policy, critics = copy.deepcopy(simpl.policy).train(), copy.deepcopy(simpl.critics)
    return ConstrainedSAC(sac_cfg, policy, critics, simpl.layout, torch.from_numpy(np.asarray(e_star, np.float32)), rng)


class ScratchLearner:
    """SPiRL (skills, regularised toward the skill prior) or flat SAC (primitive actions, toward N(0, I)): a fresh
    prior-residual policy and fresh critics, prior-regularised SAC from the first episode."""

    phase = "learn"

    def __init__(self, method: str, level: ActionLevel, sac_cfg: SacConfig, task, seed: int, cfg: TargetConfig):
        self.method, self.level, self.task, self.seed = method, level, task, seed
        torch.manual_seed(seed)
        layout = level.layout
        policy = PriorResidualPolicy(
            copy.deepcopy(level.prior), layout.state_dim, 0, layout.latent_dim, cfg.scratch_hidden, cfg.scratch_layers
        )
        q_in = layout.state_dim + layout.latent_dim
        critics = nn.ModuleList(QFunction(q_in, cfg.scratch_hidden, cfg.scratch_layers) for _ in range(2))
        self.sac = ConstrainedSAC(
            level_sac(sac_cfg, cfg, level), policy, critics, layout, None, np.random.default_rng(seed)
        )
        self.last_updates = update_summary([])

    def begin_episode(self) -> None:
        pass

    def act(self, states: np.ndarray) -> np.ndarray:
        return self.sac.act(states)

    def end_episode(self, episode: HighLevelEpisode) -> None:
        self.last_updates = update_summary(self.sac.observe(episode.rows))


def run_target_learning(learners: list, level: ActionLevel, cfg: TargetConfig, progress=None) -> list[dict]:
    """Run every learner (all on `level`) for cfg.episodes episodes; one row per (learner, episode), with its phase:
    "explore" for the episodes before e* is fixed (not part of the paper's curves), "learn" after."""
    env = make_vector_env(level.bundle.manifest["domain"], len(learners), max_episode_steps=cfg.horizon)
    rows = []

    def policy(states: np.ndarray, _conds) -> np.ndarray:
        return np.concatenate([learner.act(states[i : i + 1]) for i, learner in enumerate(learners)])

    for episode_index in range(cfg.episodes):
        phases = [learner.phase for learner in learners]
        for learner in learners:
            learner.begin_episode()
        episodes = rollout_wave(
            env,
            [learner.task for learner in learners],
            policy,
            level.decode,
            level.layout,
            level.horizon,
            seed=episode_index + 1000 * learners[0].seed,
        )
        for learner, episode, phase in zip(learners, episodes, phases):
            learner.end_episode(episode)
            rows.append(
                {
                    "method": learner.method,
                    "task": learner.task.name,
                    "seed": learner.seed,
                    "episode": episode_index + 1,
                    "phase": phase,
                    "return": episode.episode_return,
                    "success": int(episode.success),
                    "env_steps": episode.env_steps,
                    **learner.last_updates,
                }
            )
        if progress is not None:
            progress(episode_index + 1, rows[-len(learners) :])
    env.close()
    return rows


class RobotFineTuner:
    """SiMPL's fine-tuning fed by a live robot instead of a batched env: high-level transitions in, one episode at a
    time (each pays for its gradient steps), and the improved policy out as a verified bundle a running skill
    selector can swap to. e* comes from the robot's task encoder."""

    def __init__(self, bundle_dir, e_star: np.ndarray, cfg: TargetConfig | None = None, seed: int = 0):
        torch.manual_seed(seed)
        self.bundle_dir = bundle_dir
        simpl, _ = load_bundle_meta(bundle_dir)
        self.sac = fine_tuning_sac(
            simpl, action_level("skills", bundle_dir), e_star, cfg or TargetConfig(), np.random.default_rng(seed)
        )

    def learn(self, rows: np.ndarray) -> list[dict]:
        return self.sac.observe(rows)

    def export(self, out_dir, adaptation: dict):
        return export_adapted_policy(self.bundle_dir, self.sac.policy, out_dir, adaptation)
