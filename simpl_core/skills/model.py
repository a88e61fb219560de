"""The closed-loop SPiRL skill model (SPEC §1 Phase 1).

- skill encoder q(z | s_0..s_{K-1}, a_0..a_{K-1}): per-step Linear -> LSTM -> Linear, last step -> (mu, log sigma)
- closed-loop decoder pi_l(a_t | s_t, z): an MLP applied at every step with the same z
- skill prior p(z | s_0): an MLP on the first state -> (mu, log sigma)
Loss = 0.5 squared error (mean) + beta * KL(q || N(0, I)) (mean over latent dims) + NLL of a detached z ~ q under
the prior (summed over latent dims). Decoder and prior contain BatchNorm: call .eval() before using them downstream.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

LOG_STD_MIN, LOG_STD_MAX = -10.0, 2.0


@dataclass
class SkillModelConfig:
    state_dim: int
    action_dim: int
    horizon: int = 10            # K: actions per skill
    latent_dim: int = 10         # dim of z
    hidden_dim: int = 128        # width of every layer
    decoder_blocks: int = 5      # [Linear(no bias) + BatchNorm + LeakyReLU] blocks in the decoder
    prior_blocks: int = 6        # ... and in the prior
    beta: float = 1e-2           # weight of the (mean) KL to N(0, I); 1e-2 maze, 5e-4 kitchen


def mlp(in_dim: int, out_dim: int, hidden_dim: int, blocks: int) -> nn.Sequential:
    """SPiRL's predictor: Linear+LeakyReLU, `blocks` x [Linear(no bias)+BatchNorm+LeakyReLU], Linear."""
    layers: list[nn.Module] = [nn.Linear(in_dim, hidden_dim), nn.LeakyReLU(0.2)]
    for _ in range(blocks):
        layers += [nn.Linear(hidden_dim, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim), nn.LeakyReLU(0.2)]
    layers.append(nn.Linear(hidden_dim, out_dim))
    net = nn.Sequential(*layers)
    for layer in net:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_normal_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return net


class SkillDecoder(nn.Module):
    """pi_l(a | s, z): deterministic closed-loop action for the current state and skill."""

    def __init__(self, cfg: SkillModelConfig):
        super().__init__()
        self.net = mlp(cfg.state_dim + cfg.latent_dim, cfg.action_dim, cfg.hidden_dim, cfg.decoder_blocks)

    def forward(self, state: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([state, z], dim=-1))


class SkillPrior(nn.Module):
    """p(z | s_0): a diagonal Gaussian over skills given the state where the skill starts."""

    def __init__(self, cfg: SkillModelConfig):
        super().__init__()
        self.net = mlp(cfg.state_dim, 2 * cfg.latent_dim, cfg.hidden_dim, cfg.prior_blocks)

    def forward(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(state).chunk(2, dim=-1)
        return mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)


class SkillEncoder(nn.Module):
    """q(z | s_0..s_{K-1}, a_0..a_{K-1}): an LSTM over the window, read out at the last step."""

    def __init__(self, cfg: SkillModelConfig):
        super().__init__()
        self.embed = nn.Linear(cfg.state_dim + cfg.action_dim, cfg.hidden_dim)
        self.lstm = nn.LSTM(cfg.hidden_dim, cfg.hidden_dim, batch_first=True)
        self.project = nn.Linear(cfg.hidden_dim, cfg.hidden_dim)
        self.head = nn.Linear(cfg.hidden_dim, 2 * cfg.latent_dim)
        with torch.no_grad():  # forget-gate bias +1 in both bias vectors (gate order: input, forget, cell, output)
            for bias in (self.lstm.bias_ih_l0, self.lstm.bias_hh_l0):
                bias[cfg.hidden_dim:2 * cfg.hidden_dim] = 1.0

    def forward(self, states: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden, _ = self.lstm(self.embed(torch.cat([states, actions], dim=-1)))
        mean, log_std = self.head(self.project(hidden[:, -1])).chunk(2, dim=-1)
        return mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """-log N(x; mean, exp(log_std)^2), elementwise."""
    return 0.5 * ((x - mean) / log_std.exp()) ** 2 + log_std + 0.5 * torch.log(torch.tensor(2 * torch.pi))


def kl_to_standard_normal(mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, std^2) || N(0, 1)), elementwise."""
    return 0.5 * (mean ** 2 + (2 * log_std).exp() - 1) - log_std


class SkillModel(nn.Module):
    def __init__(self, cfg: SkillModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = SkillEncoder(cfg)
        self.decoder = SkillDecoder(cfg)
        self.prior = SkillPrior(cfg)

    def loss(self, states: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """states (B, K+1, S), actions (B, K, A) -> total loss and its parts."""
        k = self.cfg.horizon
        q_mean, q_log_std = self.encoder(states[:, :k], actions)
        z = q_mean + q_log_std.exp() * torch.randn_like(q_mean)
        batch = states.shape[0]
        decoded = self.decoder(states[:, :k].reshape(batch * k, -1), z.repeat_interleave(k, dim=0))
        reconstruction = 0.5 * ((decoded.view_as(actions) - actions) ** 2).mean()
        kl = kl_to_standard_normal(q_mean, q_log_std).mean()
        p_mean, p_log_std = self.prior(states[:, 0])
        prior_nll = gaussian_nll(z.detach(), p_mean, p_log_std).sum(-1).mean()
        total = reconstruction + self.cfg.beta * kl + prior_nll
        return total, {"loss": total.item(), "reconstruction": reconstruction.item(), "kl": kl.item(),
                       "prior_nll": prior_nll.item()}

    @torch.no_grad()
    def reconstruction_error(self, states: torch.Tensor, actions: torch.Tensor) -> float:
        """Mean squared action error decoding the posterior mean (eval mode: BN running stats)."""
        k = self.cfg.horizon
        q_mean, _ = self.encoder(states[:, :k], actions)
        decoded = self.decoder(states[:, :k].reshape(-1, states.shape[-1]), q_mean.repeat_interleave(k, dim=0))
        return ((decoded.view_as(actions) - actions) ** 2).mean().item()
