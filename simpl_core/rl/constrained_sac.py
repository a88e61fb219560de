"""Prior-regularised SAC over skills (SPiRL's high-level RL and SiMPL's target-task fine-tuning).

The policy is a PriorResidualPolicy; the regulariser is KL(pi(.|s) || p(.|s)) to the skill prior, weighted by
alpha = softplus(param), tuned toward `target_kl` (and, with `increasing_alpha`, only allowed to grow). A fixed
condition vector (SiMPL's e*) can be appended to every state of policy and critics.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from simpl_core.rl.buffers import EpisodeBuffer, TransitionLayout
from simpl_core.rl.nets import PriorResidualPolicy, frozen, inverse_softplus, polyak_update


@dataclass
class SacConfig:
    init_alpha: float = 0.05
    """SPiRL maze 0.05 (kitchen 1); SiMPL: meta-training's final beta_large"""
    target_kl: float = 1.0
    """maze 1, kitchen 5"""
    kl_clip: float = 10.0
    """SPiRL 10; SiMPL fine-tuning 5 (maze) / 20 (kitchen)"""
    increasing_alpha: bool = False
    """SiMPL fine-tuning: True"""
    alpha_lr: float = 3e-4
    """Adam, for the KL coefficient alpha"""
    learning_rate: float = 3e-4
    """Adam, for policy and critics"""
    gamma: float = 0.99
    """per high-level step"""
    tau: float = 0.005
    """Polyak rate of the target critics"""
    batch_size: int = 256
    """transitions per gradient step"""
    buffer_size: int = 20_000
    """high-level transitions"""
    min_buffer: int = 256
    """updates start once the buffer holds this many"""
    updates_per_transition: float = 1.0
    """reuse_rate / batch_size = 256 / 256"""


class ConstrainedSAC:
    def __init__(
        self,
        cfg: SacConfig,
        policy: PriorResidualPolicy,
        critics: nn.ModuleList,
        layout: TransitionLayout,
        cond: torch.Tensor | None,
        rng: np.random.Generator,
    ):
        self.cfg, self.policy, self.critics, self.layout = cfg, policy, critics, layout
        self.target_critics = copy.deepcopy(critics).requires_grad_(False)
        self.cond = cond
        self.rng = rng
        self.alpha_param = nn.Parameter(inverse_softplus(torch.tensor(float(cfg.init_alpha))))
        self.policy_optimizer = torch.optim.Adam(policy.residual.parameters(), lr=cfg.learning_rate)
        self.critic_optimizer = torch.optim.Adam(critics.parameters(), lr=cfg.learning_rate)
        self.alpha_optimizer = torch.optim.Adam([self.alpha_param], lr=cfg.alpha_lr)
        self.buffer = EpisodeBuffer(cfg.buffer_size, layout.width)
        self._pending_updates = 0.0

    @property
    def alpha(self) -> float:
        return F.softplus(self.alpha_param).item()

    def _with_cond(self, state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (state,) if self.cond is None else (state, self.cond.expand(*state.shape[:-1], -1))

    @torch.no_grad()
    def act(self, states: np.ndarray) -> np.ndarray:
        mean, std = self.policy(*self._with_cond(torch.from_numpy(states)))
        return (mean + std * torch.randn_like(mean)).numpy()

    def min_q(self, critics, state, z) -> torch.Tensor:
        parts = (*self._with_cond(state), z)
        return torch.min(critics[0](*parts), critics[1](*parts))

    def observe(self, rows: np.ndarray) -> list[dict]:
        """Store an episode's high-level transitions, then do the updates it pays for."""
        self.buffer.add(rows)
        self._pending_updates += self.cfg.updates_per_transition * len(rows)
        if len(self.buffer) < self.cfg.min_buffer:
            return []
        updates, self._pending_updates = int(self._pending_updates), self._pending_updates % 1
        return [self.update() for _ in range(updates)]

    def update(self) -> dict[str, float]:
        cfg = self.cfg
        batch = self.layout.unpack(torch.from_numpy(self.buffer.sample(cfg.batch_size, self.rng)))
        state, z, next_state = batch["state"], batch["z"], batch["next_state"]
        alpha = F.softplus(self.alpha_param).detach()
        with torch.no_grad():
            next_mean, next_std, next_kl = self.policy.dist_and_kl(*self._with_cond(next_state))
            next_z = next_mean + next_std * torch.randn_like(next_mean)
            next_kl = next_kl.clamp(0, cfg.kl_clip)
            target = batch["reward"] + (1 - batch["done"]) * cfg.gamma * (
                self.min_q(self.target_critics, next_state, next_z) - alpha * next_kl
            )
        parts = (*self._with_cond(state), z)
        critic_loss = sum(((critic(*parts) - target) ** 2).mean() for critic in self.critics)
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        self.critic_optimizer.step()

        mean, std, kl = self.policy.dist_and_kl(*self._with_cond(state))
        with frozen(self.critics):
            q_value = self.min_q(self.critics, state, mean + std * torch.randn_like(mean))
        policy_loss = (-q_value + alpha * kl).mean()
        self.policy_optimizer.zero_grad()
        policy_loss.backward()
        self.policy_optimizer.step()

        alpha_loss = F.softplus(self.alpha_param) * (cfg.target_kl - kl.mean().detach())
        self.alpha_optimizer.zero_grad()
        alpha_loss.backward()
        if cfg.increasing_alpha:
            self.alpha_param.grad.clamp_(max=0.0)
        self.alpha_optimizer.step()
        polyak_update(self.target_critics, self.critics, cfg.tau)
        return {
            "critic_loss": critic_loss.item() / 2,
            "policy_loss": policy_loss.item(),
            "policy_kl": kl.mean().item(),
            "alpha": self.alpha,
        }
