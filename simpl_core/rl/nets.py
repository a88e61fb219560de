"""Networks of the high level: the skill-prior-residual policy, Q-functions, and the Set
Transformer task encoder. All Gaussians are diagonal; KLs are analytic and summed over dimensions."""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

from simpl_core.skills.model import SkillPrior

MIN_STD = 0.001


def relu_mlp(in_dim: int, out_dim: int, hidden_dim: int, hidden_layers: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(hidden_layers):
        layers += [nn.Linear(in_dim if i == 0 else hidden_dim, hidden_dim), nn.ReLU()]
    layers.append(nn.Linear(hidden_dim if hidden_layers else in_dim, out_dim))
    return nn.Sequential(*layers)


def inverse_softplus(x: torch.Tensor) -> torch.Tensor:
    """softplus^-1 = x + log(1 - e^-x); written without expm1, which the ONNX exporter lacks."""
    return x + torch.log(1 - torch.exp(-x))


def gaussian_kl(mean_a, std_a, mean_b, std_b) -> torch.Tensor:
    """KL(N(a) || N(b)) summed over the last dim."""
    return (torch.log(std_b / std_a) + (std_a**2 + (mean_a - mean_b) ** 2) / (2 * std_b**2) - 0.5).sum(-1)


@contextlib.contextmanager
def frozen(module: nn.Module):
    """Gradients flow through `module` to its inputs but are not computed for its weights (the policy step of SAC
    differentiates through the critics without updating them: this skips their weight gradients)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield module
    finally:
        for parameter, flag in zip(module.parameters(), flags):
            parameter.requires_grad_(flag)


@torch.no_grad()
def polyak_update(targets: nn.Module, sources: nn.Module, tau: float) -> None:
    for target, source in zip(targets.parameters(), sources.parameters()):
        target.lerp_(source, tau)


def standard_normal_kl(mean, std) -> torch.Tensor:
    """KL(N(mean, std^2) || N(0, I)) summed over the last dim."""
    return (0.5 * (mean**2 + std**2 - 1) - torch.log(std)).sum(-1)


class StandardNormalPrior(nn.Module):
    """p(a | s) = N(0, I) for every state: the regulariser of learners that act with primitive actions and no offline
    data (flat SAC, PEARL). KL(pi || N(0, I)) is minus the entropy plus a pull of the mean toward 0, so tuning its
    weight toward a target KL plays the role of SAC's entropy temperature."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = state.new_zeros(*state.shape[:-1], self.dim)
        return zeros, zeros  # mean, log std


class PriorResidualPolicy(nn.Module):
    """pi(z | s, c) as a residual on the frozen skill prior p(z | s): mean = mu_p + d_mu,
    std = 0.001 + softplus(softplus^-1(sigma_p) + d_s). With `start_at_prior` the residual head starts at zero, so an
    untrained policy is exactly the prior (SPiRL's policy starts as the prior); SiMPL's meta-training starts from
    PyTorch's default initialisation, as the original. `cond_dim` is dim(e) for SiMPL and 0 for the SPiRL baseline."""

    def __init__(
        self,
        prior: SkillPrior | StandardNormalPrior,
        state_dim: int,
        cond_dim: int,
        latent_dim: int,
        hidden_dim: int,
        hidden_layers: int,
        start_at_prior: bool = True,
    ):
        super().__init__()
        self.prior = prior.eval().requires_grad_(False)
        self.state_dim, self.cond_dim = state_dim, cond_dim
        self.residual = relu_mlp(state_dim + cond_dim, 2 * latent_dim, hidden_dim, hidden_layers)
        if start_at_prior:
            nn.init.zeros_(self.residual[-1].weight)
            nn.init.zeros_(self.residual[-1].bias)

    def train(self, mode: bool = True):
        super().train(mode)
        self.prior.eval()  # BatchNorm of the frozen prior always uses its running statistics
        return self

    def prior_dist(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.prior(state.reshape(-1, state.shape[-1]))  # BatchNorm1d wants (N, C)
        return mean.view(*state.shape[:-1], -1), log_std.exp().view(*state.shape[:-1], -1)

    def _distributions(self, state, cond):
        prior_mean, prior_std = self.prior_dist(state)
        inputs = state if self.cond_dim == 0 else torch.cat([state, cond], dim=-1)
        d_mean, d_scale = self.residual(inputs).chunk(2, dim=-1)
        return prior_mean + d_mean, MIN_STD + F.softplus(inverse_softplus(prior_std) + d_scale), prior_mean, prior_std

    def forward(self, state: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        mean, std, _, _ = self._distributions(state, cond)
        return mean, std

    def dist_and_kl(self, state: torch.Tensor, cond: torch.Tensor | None = None):
        """Mean, std and KL(pi(.|s, c) || p(.|s)) (summed over dims), with one pass through the prior."""
        mean, std, prior_mean, prior_std = self._distributions(state, cond)
        return mean, std, gaussian_kl(mean, std, prior_mean, prior_std)


class QFunction(nn.Module):
    def __init__(self, in_dim: int, hidden_dim: int, hidden_layers: int):
        super().__init__()
        self.net = relu_mlp(in_dim, 1, hidden_dim, hidden_layers)

    def forward(self, *parts: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat(parts, dim=-1)).squeeze(-1)


class MultiheadAttentionBlock(nn.Module):
    """Set Transformer MAB without LayerNorm: O = Q' + softmax(Q'K'^T / sqrt(d)) V' per head, then O + ReLU(W O)."""

    def __init__(self, query_dim: int, key_dim: int, dim: int, heads: int):
        super().__init__()
        self.dim, self.heads = dim, heads
        self.q, self.k, self.v = nn.Linear(query_dim, dim), nn.Linear(key_dim, dim), nn.Linear(key_dim, dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        q, k, v = self.q(query), self.k(keys), self.v(keys)

        def split(x: torch.Tensor) -> torch.Tensor:  # heads stacked on the batch
            return torch.cat(x.split(self.dim // self.heads, dim=2), dim=0)

        qh, kh, vh = split(q), split(k), split(v)
        attention = torch.softmax(qh @ kh.transpose(1, 2) / math.sqrt(self.dim), dim=2)
        o = torch.cat((qh + attention @ vh).split(query.shape[0], dim=0), dim=2)
        return o + F.relu(self.out(o))


class InducedSetAttention(nn.Module):
    """ISAB: attend from m learned inducing points to the set, then from the set to them (linear in set size)."""

    def __init__(self, in_dim: int, dim: int, heads: int, inducing_points: int):
        super().__init__()
        self.inducing = nn.Parameter(torch.empty(1, inducing_points, dim))
        nn.init.xavier_uniform_(self.inducing)
        self.to_inducing = MultiheadAttentionBlock(dim, in_dim, dim, heads)
        self.from_inducing = MultiheadAttentionBlock(in_dim, dim, dim, heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.to_inducing(self.inducing.expand(x.shape[0], -1, -1), x)
        return self.from_inducing(x, h)


class SetTransformerEncoder(nn.Module):
    """q(e | c): ISAB -> ISAB -> PMA(1 seed) -> MLP -> (mean, std), std = 0.001 + softplus(raw + softplus^-1(1)).
    Input: (tasks, set size, transition dim); permutation invariant in the set dimension."""

    def __init__(self, in_dim: int, task_dim: int, hidden_dim: int = 128, heads: int = 4, inducing_points: int = 32):
        super().__init__()
        self.isab1 = InducedSetAttention(in_dim, hidden_dim, heads, inducing_points)
        self.isab2 = InducedSetAttention(hidden_dim, hidden_dim, heads, inducing_points)
        self.seed = nn.Parameter(torch.empty(1, 1, hidden_dim))
        nn.init.xavier_uniform_(self.seed)
        self.pool = MultiheadAttentionBlock(hidden_dim, hidden_dim, hidden_dim, heads)
        self.head = relu_mlp(hidden_dim, 2 * task_dim, hidden_dim, 1)
        self.register_buffer("std_offset", inverse_softplus(torch.tensor(1.0)))

    def forward(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.isab2(self.isab1(context))
        pooled = self.pool(self.seed.expand(context.shape[0], -1, -1), h).squeeze(1)
        mean, raw = self.head(pooled).chunk(2, dim=-1)
        return mean, MIN_STD + F.softplus(raw + self.std_offset)


class TaskEmbedding(nn.Module):
    """MTRL's task conditioning: a learned Gaussian q(e | task i) per training task, looked up by task index, so the
    policy is told which task it is in instead of inferring it from a context. Same output as the set encoder;
    starts at N(0, I), like the encoder's output at initialisation."""

    def __init__(self, num_tasks: int, task_dim: int):
        super().__init__()
        self.mean = nn.Parameter(torch.zeros(num_tasks, task_dim))
        self.raw_std = nn.Parameter(torch.zeros(num_tasks, task_dim))
        self.register_buffer("std_offset", inverse_softplus(torch.tensor(1.0)))

    def forward(self, task_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mean[task_ids], MIN_STD + F.softplus(self.raw_std[task_ids] + self.std_offset)
