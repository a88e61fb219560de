"""The closed-loop SPiRL skill model.

- skill encoder q(z | s_0..s_{K-1}, a_0..a_{K-1}): per-step Linear -> LSTM -> Linear, last step -> (mu, log sigma)
- closed-loop decoder pi_l(a_t | s_t, z): an MLP applied at every step with the same z
- skill prior p(z | s_0): an MLP on the first state -> (mu, log sigma)
Loss = 0.5 squared error (mean) + beta * KL(q || N(0, I)) (mean over latent dims) + NLL of a detached z ~ q under
the prior (summed over latent dims). Optionally (SkillModelConfig) decoder and prior see only a slice of the
observation (positions only, as D4RL's kitchen observation) and everything is standardised with the data's
statistics, held as buffers so the exported ONNX graphs carry them. Decoder and prior contain BatchNorm: call
.eval() before using them downstream.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

LOG_STD_MIN, LOG_STD_MAX = -10.0, 2.0


@dataclass
class SkillModelConfig:
    state_dim: int
    """observation size (set from the dataset, never in a config)"""
    action_dim: int
    """action size (ditto)"""
    horizon: int = 10
    """K: actions per skill"""
    latent_dim: int = 10
    """dim of z"""
    hidden_dim: int = 128
    """width of every layer"""
    decoder_blocks: int = 5
    """[Linear(no bias) + BatchNorm + LeakyReLU] blocks in the decoder"""
    prior_blocks: int = 6
    """... and in the prior"""
    beta: float = 1e-2
    """weight of the (mean) KL to N(0, I); 1e-2 maze, 5e-4 kitchen"""
    input_slice: list[int] | None = None
    """observation indices the decoder and prior see (None: all); the encoder always sees the whole observation"""
    normalize: bool = False
    """standardise inputs and decoder outputs with the data's mean/std, kept as buffers (so they are part of the
    exported ONNX graphs); the loss is then on standardised actions, every action dimension weighing the same"""
    gripper_dims: int = 0
    """trailing action dims that are one gripper command repeated (kitchen: 2 fingers); with `normalize` they share one
    dimension's weight, and arm_mse leaves them out"""
    std_floor: float = 1e-2
    """smallest std a feature is divided by (constant features carry only noise)"""

    @property
    def decoder_inputs(self) -> list[int]:
        return list(range(self.state_dim)) if self.input_slice is None else list(self.input_slice)


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


class Standardize(nn.Module):
    """x[..., index] -> (x[..., index] - mean) / std, with index, mean and std as buffers (saved, exported)."""

    def __init__(self, index: list[int]):
        super().__init__()
        self.register_buffer("index", torch.tensor(index, dtype=torch.long))
        self.register_buffer("mean", torch.zeros(len(index)))
        self.register_buffer("std", torch.ones(len(index)))

    def fit(self, data: torch.Tensor, std_floor: float) -> None:
        """Mean and std of `data` (N, full width) over the selected features."""
        picked = data[:, self.index]
        self.mean.copy_(picked.mean(0))
        self.std.copy_(picked.std(0).clamp_min(std_floor))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.index_select(-1, self.index) - self.mean) / self.std


def input_layer(cfg: SkillModelConfig, index: list[int]) -> nn.Module:
    """The input standardisation (or selection) a network needs; an Identity (no buffers) where it sees the raw
    observation, as the skills shipped before input slices and normalisation did (their weights load unchanged)."""
    return Standardize(index) if cfg.normalize or cfg.input_slice is not None else nn.Identity()


class SkillDecoder(nn.Module):
    """pi_l(a | s, z): deterministic closed-loop action for the current state and skill."""

    def __init__(self, cfg: SkillModelConfig):
        super().__init__()
        self.inputs = input_layer(cfg, cfg.decoder_inputs)
        self.outputs = Standardize(list(range(cfg.action_dim))) if cfg.normalize else None
        self.net = mlp(len(cfg.decoder_inputs) + cfg.latent_dim, cfg.action_dim, cfg.hidden_dim, cfg.decoder_blocks)

    def standardized(self, state: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The network's own output: the action in standardised units (= the action without `normalize`)."""
        return self.net(torch.cat([self.inputs(state), z], dim=-1))

    def forward(self, state: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        action = self.standardized(state, z)
        return action if self.outputs is None else self.outputs.mean + self.outputs.std * action


class SkillPrior(nn.Module):
    """p(z | s_0): a diagonal Gaussian over skills given the state where the skill starts."""

    def __init__(self, cfg: SkillModelConfig):
        super().__init__()
        self.inputs = input_layer(cfg, cfg.decoder_inputs)
        self.net = mlp(len(cfg.decoder_inputs), 2 * cfg.latent_dim, cfg.hidden_dim, cfg.prior_blocks)

    def forward(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(self.inputs(state)).chunk(2, dim=-1)
        return mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)


class SkillEncoder(nn.Module):
    """q(z | s_0..s_{K-1}, a_0..a_{K-1}): an LSTM over the window, read out at the last step."""

    def __init__(self, cfg: SkillModelConfig):
        super().__init__()
        self.state_inputs = Standardize(list(range(cfg.state_dim))) if cfg.normalize else nn.Identity()
        self.action_inputs = Standardize(list(range(cfg.action_dim))) if cfg.normalize else nn.Identity()
        self.embed = nn.Linear(cfg.state_dim + cfg.action_dim, cfg.hidden_dim)
        self.lstm = nn.LSTM(cfg.hidden_dim, cfg.hidden_dim, batch_first=True)
        self.project = nn.Linear(cfg.hidden_dim, cfg.hidden_dim)
        self.head = nn.Linear(cfg.hidden_dim, 2 * cfg.latent_dim)
        with torch.no_grad():  # forget-gate bias +1 in both bias vectors (gate order: input, forget, cell, output)
            for bias in (self.lstm.bias_ih_l0, self.lstm.bias_hh_l0):
                bias[cfg.hidden_dim : 2 * cfg.hidden_dim] = 1.0

    def forward(self, states: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        steps = torch.cat([self.state_inputs(states), self.action_inputs(actions)], dim=-1)
        hidden, _ = self.lstm(self.embed(steps))
        mean, log_std = self.head(self.project(hidden[:, -1])).chunk(2, dim=-1)
        return mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """-log N(x; mean, exp(log_std)^2), elementwise."""
    return 0.5 * ((x - mean) / log_std.exp()) ** 2 + log_std + 0.5 * torch.log(torch.tensor(2 * torch.pi))


def kl_to_standard_normal(mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, std^2) || N(0, 1)), elementwise."""
    return 0.5 * (mean**2 + (2 * log_std).exp() - 1) - log_std


class SkillModel(nn.Module):
    def __init__(self, cfg: SkillModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = SkillEncoder(cfg)
        self.decoder = SkillDecoder(cfg)
        self.prior = SkillPrior(cfg)
        # Per action dim weight of the standardised loss: a gripper repeated over several dims counts once.
        weights = torch.ones(cfg.action_dim)
        if cfg.gripper_dims:
            weights[-cfg.gripper_dims :] = 1.0 / cfg.gripper_dims
        self.register_buffer("action_weights", weights / weights.sum(), persistent=False)

    @torch.no_grad()
    def fit_normalization(self, states: torch.Tensor, actions: torch.Tensor) -> None:
        """Set every input and output standardisation from data: states (N, S), actions (N, A)."""
        if not self.cfg.normalize:
            return
        floor = self.cfg.std_floor
        self.decoder.inputs.fit(states, floor)
        self.prior.inputs.fit(states, floor)
        self.decoder.outputs.fit(actions, floor)
        self.encoder.state_inputs.fit(states, floor)
        self.encoder.action_inputs.fit(actions, floor)

    def _decode_window(self, states: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The decoder's standardised outputs (B, K, A) for K states with one z per window."""
        k, batch = self.cfg.horizon, states.shape[0]
        flat = self.decoder.standardized(states[:, :k].reshape(batch * k, -1), z.repeat_interleave(k, dim=0))
        return flat.view(batch, k, -1)

    def _standardized_actions(self, actions: torch.Tensor) -> torch.Tensor:
        outputs = self.decoder.outputs
        return actions if outputs is None else (actions - outputs.mean) / outputs.std

    def loss(self, states: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """states (B, K+1, S), actions (B, K, A) -> total loss and its parts."""
        k = self.cfg.horizon
        q_mean, q_log_std = self.encoder(states[:, :k], actions)
        z = q_mean + q_log_std.exp() * torch.randn_like(q_mean)
        squared = (self._decode_window(states, z) - self._standardized_actions(actions)) ** 2
        if self.cfg.normalize:
            reconstruction = 0.5 * (squared.mean((0, 1)) * self.action_weights).sum()
        else:  # SPiRL's loss: the plain mean over batch, time and action dims
            reconstruction = 0.5 * squared.mean()
        kl = kl_to_standard_normal(q_mean, q_log_std).mean()
        p_mean, p_log_std = self.prior(states[:, 0])
        prior_nll = gaussian_nll(z.detach(), p_mean, p_log_std).sum(-1).mean()
        total = reconstruction + self.cfg.beta * kl + prior_nll
        return total, {
            "loss": total.item(),
            "reconstruction": reconstruction.item(),
            "kl": kl.item(),
            "prior_nll": prior_nll.item(),
        }

    @torch.no_grad()
    def reconstruction_errors(self, states: torch.Tensor, actions: torch.Tensor) -> dict[str, float]:
        """Mean squared action error decoding the posterior mean (eval mode: BN running stats), in action units:
        over all dims, and over the arm alone (the dims before the gripper)."""
        k = self.cfg.horizon
        q_mean, _ = self.encoder(states[:, :k], actions)
        decoded = self.decoder(states[:, :k].reshape(-1, states.shape[-1]), q_mean.repeat_interleave(k, dim=0))
        squared = (decoded.view_as(actions) - actions) ** 2
        arm = self.cfg.action_dim - self.cfg.gripper_dims
        return {"mse": squared.mean().item(), "arm_mse": squared[..., :arm].mean().item()}
