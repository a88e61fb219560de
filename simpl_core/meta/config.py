"""Hyper-parameters of SiMPL meta-training, one dataclass: the defaults are the maze CPU configuration
(config/simpl_maze_cpu.yaml states nothing else); other YAML files in config/ state what they change (unknown keys
refused). `simpl meta show-config CONFIG` prints the effective values with these comments."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simpl_core.runs import config_from_yaml


@dataclass
class SimplConfig:
    domain: str = "maze"
    """which DomainSpec the tasks are in (maze, kitchen)"""
    actions: str = "skills"
    """skills (SiMPL) or primitive (the PEARL baseline: no skills, no offline data)"""
    task_conditioning: str = "context"
    """context: e inferred from transitions (SiMPL, PEARL); task_id: MTRL"""
    task_dim: int = 5
    """dim(e): 5 maze, 6 kitchen"""
    policy_hidden: int = 256
    """high-level policy residual MLP width (maze 256, kitchen 128)"""
    policy_layers: int = 3
    """... and depth (maze 3, kitchen 5)"""
    q_hidden: int = 256
    """Q-network width"""
    q_layers: int = 3
    """Q-network depth"""
    encoder_hidden: int = 128
    """Set Transformer width"""
    encoder_heads: int = 4
    """attention heads of the Set Transformer"""
    encoder_inducing_points: int = 32
    """inducing points of its ISAB blocks"""
    gamma: float = 0.99
    """per high-level step"""
    tau: float = 0.005
    """Polyak rate of the target critics"""
    learning_rate: float = 3e-4
    """Adam, for policy, critics and encoder"""
    coefficient_learning_rate: float = 3e-4
    """Adam, for the KL coefficients (SPiRL's kitchen alpha: 3e-3)"""
    kl_clip: float = 5.0
    """clip of the policy KL inside the critic target"""
    init_enc_prior_reg: float = 1e-5
    """lambda_small: encoder KL weight for small contexts"""
    target_enc_prior_kl: float = 1.0
    """encoder KL that lambda_small is tuned towards"""
    init_enc_post_reg: float = 3e-6
    """lambda_large (one per task): encoder KL weight for large contexts"""
    target_enc_post_kl: float = 10.0
    """encoder KL that lambda_large is tuned towards"""
    init_policy_prior_reg: float = 3e-3
    """beta_small: policy KL weight on small-context batches"""
    target_policy_prior_kl: float = 0.5
    """policy KL to the skill prior that beta_small is tuned towards"""
    init_policy_post_reg: float = 1e-3
    """beta_large: policy KL weight on large-context batches"""
    target_policy_post_kl: float = 1.0
    """... that beta_large is tuned towards"""
    monotone_policy_reg: bool = True
    """paper: beta only grows; False lets it fall too, as SPiRL's alpha does"""
    prior_enc_size: int = 4
    """small context: transitions per set"""
    post_enc_size: int = 256
    """large context (paper: 8192 maze, 1024 kitchen)"""
    n_prior_batch: int = 2
    """task batches per update with a small context (paper 4)"""
    n_post_batch: int = 8
    """... with a large context (paper 26)"""
    batch_size: int = 256
    """RL transitions per task batch (paper 1024 maze, 256 kitchen)"""
    reuse_rate: float = 16.0
    """gradient steps per iteration = reuse * new transitions / (tasks * batch)"""
    max_updates_per_iteration: int = 80
    """cap on the above (first iterations collect long episodes)"""
    relabel_fraction: float = 0.0
    """hindsight task relabelling (deviation from the paper; goal tasks only, meta/relabel.py): share of every
    context and RL batch drawn from all tasks' transitions, rewarded where the skill reached this task's goal;
    0 = off"""
    enc_buffer_size: int = 4000
    """high-level transitions kept per task for conditioning"""
    buffer_size: int = 4000
    """... for RL"""
    iterations: int = 300
    """meta-training iterations (paper 1000 maze, 500 kitchen)"""
    horizon: int = 2000
    """env steps per episode"""
    checkpoint_every: int = 5
    """iterations between checkpoints"""
    threads: int = 2
    """torch CPU threads"""
    seed: int = 0
    """seeds torch, numpy and the envs"""
    init_from: str | None = None
    """a meta-trained bundle (over the same skills and number of tasks) whose simpl_model.pt -- encoder, policy,
    critics, KL coefficients; no buffers or optimiser state -- starts this run: continuing a run past one session
    from committed weights. The buffers start empty (warm-up as usual)"""

    @classmethod
    def from_yaml(cls, path: str | Path) -> "SimplConfig":
        return config_from_yaml(cls, path)
