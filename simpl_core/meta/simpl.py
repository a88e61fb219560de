"""SiMPL meta-training, CleanRL-style: networks and the update step in `Simpl`, the loop in
`meta_train`.

Per task two FIFO buffers of high-level transitions: the encoder buffer (conditioning data, from episodes run with
e ~ p(e)) and the RL buffer. Each iteration runs, for every task, one episode with e ~ p(e) (-> both buffers; one
batched wave over the tasks), then one with e ~ q(e | c), c drawn with replacement from the encoder buffer that now
holds the first (-> RL buffer; a second wave); then gradient steps on task batches with small and large contexts.
The KL coefficients (λ_large one per task) are learned by dual gradient and only ever grow.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from simpl_core.envs import make_vector_env
from simpl_core.meta.config import SimplConfig
from simpl_core.meta.relabel import RelabelPool, reach_test_for, relabelled
from simpl_core.rl.buffers import EpisodeBuffer, TransitionLayout
from simpl_core.rl.levels import action_level
from simpl_core.rl.nets import (
    PriorResidualPolicy,
    QFunction,
    SetTransformerEncoder,
    TaskEmbedding,
    frozen,
    inverse_softplus,
    polyak_update,
    standard_normal_kl,
)
from simpl_core.rl.rollout import HighLevelEpisode, rollout_wave
from simpl_core.runs import (
    CHECKPOINT,
    METRICS,
    check_resumed_config,
    check_run_dir,
    read_metrics,
    save_checkpoint,
    truncate_metrics,
)
from simpl_core.runtime.bundle import META_WEIGHTS, SKILL_WEIGHTS, BundleError, PolicyBundle
from simpl_core.runtime.protocol import encode_e_star

CONDITIONINGS = ("context", "task_id")
# Not stored in META_WEIGHTS: the skill prior is in SKILL_WEIGHTS, target critics restart as copies of the critics.
REBUILT_WEIGHTS = ("policy.prior.", "target_critics.")


def coefficient(initial: float) -> nn.Parameter:
    """A KL coefficient stored as softplus^-1 of its value."""
    return nn.Parameter(inverse_softplus(torch.tensor(float(initial))))


def per_task_coefficients(initial: float, count: int) -> nn.ParameterList:
    """One KL coefficient parameter per task, as the original: Adam moves only those of the tasks in a batch."""
    return nn.ParameterList(coefficient(initial) for _ in range(count))


def split_per_task_coefficients(module, state_dict, prefix, *_) -> None:
    """load_state_dict pre-hook: weights saved while λ_large was one tensor over the tasks."""
    stacked = state_dict.pop(prefix + "enc_post_reg", None)
    if stacked is not None:
        state_dict.update({f"{prefix}enc_post_reg.{i}": value for i, value in enumerate(stacked)})


def mean_or_none(values: np.ndarray) -> float | None:
    """A metric's mean, or None (null in JSON) over no values."""
    return float(values.mean()) if len(values) else None


def batch_mean(values: torch.Tensor) -> torch.Tensor:
    """The mean, or 0 for no values (no small-context batches: their KLs read 0 and their coefficients stay put)."""
    return values.mean() if values.numel() else values.new_zeros(())


class Simpl(nn.Module):
    def __init__(self, cfg: SimplConfig, prior: nn.Module, state_dim: int, latent_dim: int, num_tasks: int):
        super().__init__()
        self.cfg = cfg
        self.layout = TransitionLayout(state_dim, latent_dim)
        if cfg.task_conditioning not in CONDITIONINGS:
            raise ValueError(f"unknown task_conditioning {cfg.task_conditioning!r}; use one of {CONDITIONINGS}")
        if cfg.task_conditioning == "task_id":
            self.encoder = TaskEmbedding(num_tasks, cfg.task_dim)
        else:
            self.encoder = SetTransformerEncoder(
                self.layout.width, cfg.task_dim, cfg.encoder_hidden, cfg.encoder_heads, cfg.encoder_inducing_points
            )
        self.policy = PriorResidualPolicy(
            copy.deepcopy(prior),
            state_dim,
            cfg.task_dim,
            latent_dim,
            cfg.policy_hidden,
            cfg.policy_layers,
            start_at_prior=False,  # the original's residual head has PyTorch's default initialisation
        )
        q_in = state_dim + cfg.task_dim + latent_dim
        self.critics = nn.ModuleList(QFunction(q_in, cfg.q_hidden, cfg.q_layers) for _ in range(2))
        self.target_critics = copy.deepcopy(self.critics).requires_grad_(False)
        self.enc_prior_reg = coefficient(cfg.init_enc_prior_reg)
        self.enc_post_reg = per_task_coefficients(cfg.init_enc_post_reg, num_tasks)
        self.register_load_state_dict_pre_hook(split_per_task_coefficients)
        self.policy_prior_reg = coefficient(cfg.init_policy_prior_reg)
        self.policy_post_reg = coefficient(cfg.init_policy_post_reg)
        lr = cfg.learning_rate
        self.critic_optimizer = torch.optim.Adam([*self.critics.parameters(), *self.encoder.parameters()], lr=lr)
        self.policy_optimizer = torch.optim.Adam(self.policy.residual.parameters(), lr=lr)
        self.coefficient_optimizer = torch.optim.Adam(self.coefficients(), lr=cfg.coefficient_learning_rate)

    def saved_weights(self) -> dict:
        """What META_WEIGHTS keeps of the module (see REBUILT_WEIGHTS)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith(REBUILT_WEIGHTS)}

    def load_saved_weights(self, weights: dict, source: str) -> None:
        """The inverse of saved_weights; target critics restart as copies of the critics."""
        try:
            missing, unexpected = self.load_state_dict(weights, strict=False)
        except RuntimeError as err:  # a shape mismatch
            raise BundleError(f"{source} does not fit the networks: {err}") from None
        if unexpected or not all(key.startswith(REBUILT_WEIGHTS) for key in missing):
            raise BundleError(f"{source} does not fit the networks: missing {missing}, unexpected {unexpected}")
        self.target_critics.load_state_dict(self.critics.state_dict())

    def coefficients(self) -> list[nn.Parameter]:
        return [self.enc_prior_reg, *self.enc_post_reg, self.policy_prior_reg, self.policy_post_reg]

    def monotone_coefficients(self) -> list[nn.Parameter]:
        policy = [self.policy_prior_reg, self.policy_post_reg] if self.cfg.monotone_policy_reg else []
        return [self.enc_prior_reg, *self.enc_post_reg, *policy]

    def coefficient_values(self) -> dict[str, float]:
        return {
            "lambda_small": F.softplus(self.enc_prior_reg).item(),
            "lambda_large_mean": F.softplus(torch.stack(list(self.enc_post_reg))).mean().item(),
            "beta_small": F.softplus(self.policy_prior_reg).item(),
            "beta_large": F.softplus(self.policy_post_reg).item(),
        }

    @torch.no_grad()
    def sample_skills(self, states: np.ndarray, conds: np.ndarray) -> np.ndarray:
        mean, std = self.policy(torch.from_numpy(states), torch.from_numpy(conds.astype(np.float32)))
        return (mean + std * torch.randn_like(mean)).numpy()

    def condition(self, task_ids, contexts: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """q(e | c) for a stack of contexts (tasks, set size, width), or MTRL's q(e | task id)."""
        if isinstance(self.encoder, TaskEmbedding):
            return self.encoder(torch.as_tensor(np.asarray(task_ids)))
        if len(contexts) == 0:  # no small-context batches (n_prior_batch: 0): nothing to encode
            empty = torch.zeros(0, self.cfg.task_dim)
            return empty, empty
        return self.encoder(torch.from_numpy(contexts))

    @torch.no_grad()
    def posterior(
        self, episodes: list[np.ndarray], sets: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """A target task's e* and the posterior std from the high-level transitions of `episodes`: q(e | all of them)
        with sets = 0, else the mean over `sets` training-sized sets drawn from them (`encode_e_star`)."""

        def encode(inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            mean, std = self.encoder(torch.from_numpy(inputs))
            return mean.numpy(), std.numpy()

        return encode_e_star(encode, np.concatenate(episodes), self.cfg.post_enc_size, sets, rng)

    @torch.no_grad()
    def posterior_samples(self, task_ids, contexts: np.ndarray) -> np.ndarray:
        mean, std = self.condition(task_ids, contexts)
        return (mean + std * torch.randn_like(mean)).numpy()

    def holds_reward(self, contexts: np.ndarray) -> np.ndarray:
        """Per context (..., set size, width): whether any of its transitions is rewarded."""
        return (self.layout.unpack(contexts)["reward"] > 0).any(-1)

    def min_q(self, critics: nn.ModuleList, *parts: torch.Tensor) -> torch.Tensor:
        return torch.min(critics[0](*parts), critics[1](*parts))

    def update(
        self, enc_buffers: list[EpisodeBuffer], rl_buffers: list[EpisodeBuffer], rng: np.random.Generator
    ) -> dict[str, float]:
        cfg = self.cfg
        small_tasks = rng.integers(len(enc_buffers), size=cfg.n_prior_batch)
        large_tasks = rng.integers(len(enc_buffers), size=cfg.n_post_batch)
        small = (
            np.stack([enc_buffers[t].sample(cfg.prior_enc_size, rng) for t in small_tasks])
            if cfg.n_prior_batch
            else np.zeros((0, cfg.prior_enc_size, self.layout.width), np.float32)
        )  # MTRL has no small contexts
        large = np.stack([enc_buffers[t].sample(cfg.post_enc_size, rng) for t in large_tasks])
        mean_small, std_small = self.condition(small_tasks, small)
        mean_large, std_large = self.condition(large_tasks, large)
        enc_mean, enc_std = torch.cat([mean_small, mean_large]), torch.cat([std_small, std_large])

        tasks = np.concatenate([small_tasks, large_tasks])
        rows = torch.from_numpy(np.stack([rl_buffers[t].sample(cfg.batch_size, rng) for t in tasks]))
        batch = self.layout.unpack(rows)  # each (tasks, batch, ...)
        e = enc_mean[:, None] + enc_std[:, None] * torch.randn(*rows.shape[:2], cfg.task_dim)  # one e per transition
        beta = torch.cat(
            [
                F.softplus(self.policy_prior_reg).expand(cfg.n_prior_batch),
                F.softplus(self.policy_post_reg).expand(cfg.n_post_batch),
            ]
        ).detach()[:, None]
        state, z, next_state = batch["state"], batch["z"], batch["next_state"]

        # Critics and encoder: TD target with the KL-regularised value of the next state (same e for s and s').
        with torch.no_grad():
            next_mean, next_std, next_kl = self.policy.dist_and_kl(next_state, e)
            next_z = next_mean + next_std * torch.randn_like(next_mean)
            next_kl = next_kl.clamp(0, cfg.kl_clip)
            next_value = self.min_q(self.target_critics, next_state, e, next_z) - beta * next_kl
            target = batch["reward"] + (1 - batch["done"]) * cfg.gamma * next_value
        critic_loss = torch.stack([((critic(state, e, z) - target) ** 2).mean() for critic in self.critics]).mean()
        enc_kl_small = standard_normal_kl(mean_small, std_small)
        enc_kl_large = standard_normal_kl(mean_large, std_large)
        # only the sampled tasks' λ_large take part, so the others get no gradient and Adam leaves them be
        lambda_large = F.softplus(torch.stack([self.enc_post_reg[t] for t in large_tasks]))
        lambdas = torch.cat([F.softplus(self.enc_prior_reg).expand(cfg.n_prior_batch), lambda_large]).detach()
        encoder_loss = (lambdas * torch.cat([enc_kl_small, enc_kl_large])).mean()
        self.critic_optimizer.zero_grad()
        (critic_loss + encoder_loss).backward()
        self.critic_optimizer.step()

        # Policy: maximise Q, stay close to the skill prior; it sees a detached e.
        e = e.detach()
        mean, std, policy_kl = self.policy.dist_and_kl(state, e)
        with frozen(self.critics):
            q_value = self.min_q(self.critics, state, e, mean + std * torch.randn_like(mean))
        policy_loss = (-q_value + beta * policy_kl).mean()
        self.policy_optimizer.zero_grad()
        policy_loss.backward()
        self.policy_optimizer.step()

        # Dual ascent on the KL coefficients toward their targets; gradients clamped so they only grow (the policy's
        # may also fall when monotone_policy_reg is off).
        kl_small = batch_mean(policy_kl[: cfg.n_prior_batch]).detach()
        kl_large = policy_kl[cfg.n_prior_batch :].mean().detach()
        coefficient_loss = (
            F.softplus(self.enc_prior_reg) * (cfg.target_enc_prior_kl - batch_mean(enc_kl_small).detach())
            + (lambda_large * (cfg.target_enc_post_kl - enc_kl_large.detach())).mean()
            + F.softplus(self.policy_prior_reg) * (cfg.target_policy_prior_kl - kl_small)
            + F.softplus(self.policy_post_reg) * (cfg.target_policy_post_kl - kl_large)
        )
        self.coefficient_optimizer.zero_grad()
        coefficient_loss.backward()
        for parameter in self.monotone_coefficients():
            if parameter.grad is not None:  # None: a task not in this step's batches
                parameter.grad.clamp_(max=0.0)
        self.coefficient_optimizer.step()

        polyak_update(self.target_critics, self.critics, cfg.tau)
        return {
            "critic_loss": critic_loss.item(),
            "policy_loss": policy_loss.item(),
            "encoder_kl_small": batch_mean(enc_kl_small).item(),
            "encoder_kl_large": enc_kl_large.mean().item(),
            "policy_kl_small": kl_small.item(),
            "policy_kl_large": kl_large.item(),
            "q_mean": q_value.mean().item(),
            # share of large contexts holding any reward: with sparse rewards, the rest can only tell the
            # encoder where the task is not
            "rewarded_context_share": float(self.holds_reward(large).mean()),
        }


class MetaTrainer:
    """Buffers, rollouts and the iteration loop around `Simpl`, with checkpoints and metrics."""

    def __init__(self, cfg: SimplConfig, simpl: Simpl, tasks: list, decode, skill_horizon: int):
        self.cfg, self.simpl, self.tasks = cfg, simpl, list(tasks)
        self.decode, self.skill_horizon = decode, skill_horizon
        width = simpl.layout.width
        self.enc_buffers = [EpisodeBuffer(cfg.enc_buffer_size, width) for _ in self.tasks]
        self.rl_buffers = [EpisodeBuffer(cfg.buffer_size, width) for _ in self.tasks]
        if not 0.0 <= cfg.relabel_fraction <= 1.0:
            raise ValueError(f"relabel_fraction must be in [0, 1], got {cfg.relabel_fraction}")
        count, relabel = len(self.tasks), cfg.relabel_fraction > 0
        self.reach_test = reach_test_for(self.tasks) if relabel else None
        self.enc_pool = RelabelPool(cfg.enc_buffer_size * count, simpl.layout, count) if relabel else None
        self.rl_pool = RelabelPool(cfg.buffer_size * count, simpl.layout, count) if relabel else None
        # what contexts and RL batches are drawn from: the buffers, or the buffers mixed with relabelled pools
        self.enc_draw = relabelled(self.enc_buffers, self.enc_pool, cfg.relabel_fraction)
        self.rl_draw = relabelled(self.rl_buffers, self.rl_pool, cfg.relabel_fraction)
        self.rng = np.random.default_rng(cfg.seed)
        self.iteration = 0
        self.env_steps = 0
        self._envs: dict[int, object] = {}

    def _env(self, count: int):
        if count not in self._envs:
            self._envs[count] = make_vector_env(self.cfg.domain, count, max_episode_steps=self.cfg.horizon)
        return self._envs[count]

    def close(self) -> None:
        """Release the batched envs (their MuJoCo rollout thread pools)."""
        for env in self._envs.values():
            env.close()
        self._envs.clear()

    def prior_conds(self, count: int) -> np.ndarray:
        return self.rng.standard_normal((count, self.cfg.task_dim)).astype(np.float32)

    def posterior_conds(self, task_ids) -> tuple[np.ndarray, np.ndarray]:
        """e ~ q(e | c) per task, c drawn from its encoder buffer, and whether each c holds a reward."""
        contexts = np.stack([self.enc_draw[t].sample(self.cfg.post_enc_size, self.rng) for t in task_ids])
        return self.simpl.posterior_samples(task_ids, contexts), self.simpl.holds_reward(contexts)

    def run_wave(self, task_ids, conds: np.ndarray) -> list[HighLevelEpisode]:
        episodes = rollout_wave(
            self._env(len(task_ids)),
            [self.tasks[t] for t in task_ids],
            self.simpl.sample_skills,
            self.decode,
            self.simpl.layout,
            self.skill_horizon,
            conds,
            seed=int(self.rng.integers(2**31)),
            reach_test=self.reach_test,
        )
        self.env_steps += sum(ep.env_steps for ep in episodes)
        return episodes

    def store(self, task: int, episode: HighLevelEpisode, encoder: bool) -> None:
        """An episode into the task's RL buffer (and its encoder buffer), and into the relabelling pools if any."""
        for buffers, pool, wanted in (
            (self.rl_buffers, self.rl_pool, True),
            (self.enc_buffers, self.enc_pool, encoder),
        ):
            if wanted:
                buffers[task].add(episode.rows)
                if pool is not None:
                    pool.add(episode.rows, episode.reached)

    def warm_up(self) -> None:
        """Fill every encoder buffer with prior-conditioned episodes, then every RL buffer with posterior ones."""
        while needy := [t for t, b in enumerate(self.enc_buffers) if len(b) < self.cfg.post_enc_size]:
            for t, episode in zip(needy, self.run_wave(needy, self.prior_conds(len(needy)))):
                self.store(t, episode, encoder=True)
        while needy := [t for t, b in enumerate(self.rl_buffers) if len(b) < self.cfg.batch_size]:
            for t, episode in zip(needy, self.run_wave(needy, self.posterior_conds(needy)[0])):
                self.store(t, episode, encoder=False)

    def iterate(self) -> dict:
        """One meta-training iteration: collect 2 episodes per task, then gradient steps."""
        started, steps_before = time.perf_counter(), self.env_steps
        ids = list(range(len(self.tasks)))
        prior_eps = self.run_wave(ids, self.prior_conds(len(ids)))
        for t, episode in zip(ids, prior_eps):
            self.store(t, episode, encoder=True)
        # contexts may hold this iteration's prior episode, as the original's
        conds, rewarded = self.posterior_conds(ids)
        post_eps = self.run_wave(ids, conds)
        for t, episode in zip(ids, post_eps):
            self.store(t, episode, encoder=False)
        collect_s = time.perf_counter() - started
        prior_returns = np.array([ep.episode_return for ep in prior_eps])
        post_returns = np.array([ep.episode_return for ep in post_eps])
        new_transitions = sum(len(ep.rows) for ep in prior_eps + post_eps)
        tasks_per_step = self.cfg.n_prior_batch + self.cfg.n_post_batch
        updates = int(self.cfg.reuse_rate * new_transitions / (tasks_per_step * self.cfg.batch_size))
        updates = min(max(updates, 1), self.cfg.max_updates_per_iteration)
        losses = [self.simpl.update(self.enc_draw, self.rl_draw, self.rng) for _ in range(updates)]
        self.iteration += 1
        return {
            "iteration": self.iteration,
            "posterior_return": float(post_returns.mean()),
            "prior_return": float(prior_returns.mean()),
            # does the policy act on what the context says? success after a context with a reward vs a blank one
            "posterior_return_rewarded_context": mean_or_none(post_returns[rewarded]),
            "posterior_return_blank_context": mean_or_none(post_returns[~rewarded]),
            "posterior_returns": post_returns.round(3).tolist(),  # per task, for the per-task table
            "rewarded_contexts": rewarded.astype(int).tolist(),  # per task: the split within a task (meta report)
            "prior_returns": prior_returns.round(3).tolist(),
            "env_steps": self.env_steps,
            "updates": updates,
            "env_steps_per_s": round((self.env_steps - steps_before) / collect_s, 1),
            "collect_s": round(collect_s, 2),
            "iteration_s": round(time.perf_counter() - started, 2),
            **{k: float(np.mean([loss[k] for loss in losses])) for k in losses[0]},
            **self.simpl.coefficient_values(),
        }

    def state_dict(self) -> dict:
        return {
            "simpl": self.simpl.state_dict(),
            "optimizers": [
                o.state_dict()
                for o in (self.simpl.critic_optimizer, self.simpl.policy_optimizer, self.simpl.coefficient_optimizer)
            ],
            "enc_buffers": [b.state_dict() for b in self.enc_buffers],
            "rl_buffers": [b.state_dict() for b in self.rl_buffers],
            **({"relabel_pools": [self.enc_pool.state_dict(), self.rl_pool.state_dict()]} if self.enc_pool else {}),
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "config": dataclasses.asdict(self.cfg),
        }

    def load_state_dict(self, state: dict) -> None:
        self.simpl.load_state_dict(state["simpl"])
        for optimizer, saved in zip(
            (self.simpl.critic_optimizer, self.simpl.policy_optimizer, self.simpl.coefficient_optimizer),
            state["optimizers"],
        ):
            try:
                optimizer.load_state_dict(saved)
            except ValueError as err:  # checkpoints from before λ_large was one parameter per task
                raise ValueError(
                    f"the checkpoint's optimiser state does not fit this version ({err}); export the run "
                    "(`simpl meta export`) and continue it in a new one with --init-from"
                ) from None
        for buffers, saved in ((self.enc_buffers, state["enc_buffers"]), (self.rl_buffers, state["rl_buffers"])):
            for buffer, buffer_state in zip(buffers, saved):
                buffer.load_state_dict(buffer_state)
        if self.enc_pool is not None:
            for pool, pool_state in zip((self.enc_pool, self.rl_pool), state["relabel_pools"]):
                pool.load_state_dict(pool_state)
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        self.iteration, self.env_steps = state["iteration"], state["env_steps"]


def plot_meta_metrics(run_dir: Path) -> Path:
    """meta_training.png: success of the two kinds of episodes, KLs and KL coefficients per iteration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(run_dir)
    it = [r["iteration"] for r in rows]
    panels = (
        ("return per episode", ("posterior_return", "prior_return")),
        ("policy KL to the skill prior", ("policy_kl_small", "policy_kl_large")),
        ("encoder KL to N(0, I)", ("encoder_kl_small", "encoder_kl_large")),
        ("KL coefficients", ("beta_small", "beta_large", "lambda_small", "lambda_large_mean")),
    )
    fig, axes = plt.subplots(1, 4, figsize=(18, 3.8))
    for ax, (title, keys) in zip(axes, panels):
        for key in keys:
            ax.plot(it, [r[key] for r in rows], label=key, linewidth=0.9)
        ax.set_title(title)
        ax.set_xlabel("iteration")
        ax.legend(fontsize=7)
    axes[3].set_yscale("log")
    out = run_dir / "meta_training.png"
    fig.savefig(out, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return out


def meta_train(
    cfg: SimplConfig,
    bundle_dir: str | Path,
    task_set_name: str,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
) -> list[dict]:
    """Meta-train on a task set over the skills of a bundle (or, with cfg.actions = "primitive", over primitive
    actions: the PEARL baseline); returns the per-iteration metrics."""
    from simpl_core.tasks import resolve_tasks

    run_dir = Path(run_dir)
    check_run_dir(run_dir, resume)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    task_set = resolve_tasks(task_set_name)
    level = action_level(cfg.actions, bundle_dir)
    bundle = level.bundle
    if task_set.domain != bundle.manifest["domain"] or cfg.domain != task_set.domain:
        raise ValueError(
            f"domain mismatch: tasks {task_set.domain!r}, bundle {bundle.manifest['domain']!r}, config {cfg.domain!r}"
        )
    simpl = Simpl(cfg, level.prior, level.layout.state_dim, level.layout.latent_dim, len(task_set))
    trainer = MetaTrainer(cfg, simpl, task_set.tasks, level.decode, level.horizon)
    run_dir.mkdir(parents=True, exist_ok=True)
    settings = {
        "config": dataclasses.asdict(cfg),
        "bundle": str(bundle_dir),
        "tasks": task_set_name,
        "skills_sha256": bundle.manifest["files"][SKILL_WEIGHTS],
    }
    if resume and (run_dir / CHECKPOINT).exists():

        def flat(run: dict) -> dict:
            return {**run["config"], **{key: value for key, value in run.items() if key != "config"}}

        check_resumed_config(run_dir, flat(json.loads((run_dir / "run.json").read_text())), flat(settings))
        trainer.load_state_dict(torch.load(run_dir / CHECKPOINT, map_location="cpu", weights_only=False))
        truncate_metrics(run_dir, "iteration", trainer.iteration)
    else:
        if cfg.init_from:
            init_from_bundle(simpl, cfg.init_from, settings["skills_sha256"])
        trainer.warm_up()
    (run_dir / "run.json").write_text(json.dumps(settings, indent=2))

    bar = tqdm(total=cfg.iterations, initial=trainer.iteration, desc="meta-train", unit="it", disable=not progress)
    with (run_dir / METRICS).open("a") as metrics, contextlib.closing(trainer):
        while trainer.iteration < cfg.iterations:
            row = trainer.iterate()
            metrics.write(json.dumps(row) + "\n")
            bar.update(1)
            bar.set_postfix(
                success=f"{row['posterior_return']:.2f}",
                beta=f"{row['beta_large']:.3f}",
                kl=f"{row['policy_kl_large']:.2f}",
                steps_s=f"{row['env_steps_per_s']:.0f}",
            )
            if trainer.iteration % cfg.checkpoint_every == 0 or trainer.iteration == cfg.iterations:
                metrics.flush()
                save_checkpoint(trainer.state_dict(), run_dir)
    bar.close()
    plot_meta_metrics(run_dir)
    return read_metrics(run_dir)


def init_from_bundle(simpl: Simpl, bundle_dir: str | Path, skills_sha256: str) -> None:
    """Start from a meta-trained bundle's weights (cfg.init_from); its skills must be the ones trained over."""
    bundle = PolicyBundle.load(bundle_dir)
    if META_WEIGHTS not in bundle.manifest["files"]:
        raise BundleError(f"init_from {bundle_dir} holds no meta-trained weights ({META_WEIGHTS})")
    if bundle.manifest["files"][SKILL_WEIGHTS] != skills_sha256:
        raise BundleError(f"init_from {bundle_dir} was meta-trained over other skills than this run's")
    simpl.load_saved_weights(read_meta_weights(bundle_dir)["simpl"], f"init_from {bundle_dir}/{META_WEIGHTS}")


def read_meta_weights(bundle_dir: str | Path) -> dict:
    """A bundle's META_WEIGHTS record: the run's "config", its "num_tasks" and the "simpl" saved weights."""
    return torch.load(Path(bundle_dir) / META_WEIGHTS, map_location="cpu", weights_only=True)


def load_meta_run(run_dir: str | Path, bundle_dir: str | Path):
    """The Simpl module of a meta-training run (eval mode), its checkpoint, metrics and run.json."""
    run_dir = Path(run_dir)
    if not (run_dir / CHECKPOINT).is_file():
        raise FileNotFoundError(f"no meta-training checkpoint in {run_dir}; run `simpl meta train --out {run_dir}`")
    checkpoint = torch.load(run_dir / CHECKPOINT, map_location="cpu", weights_only=False)
    cfg = SimplConfig(**checkpoint["config"])
    level = action_level(cfg.actions, bundle_dir)
    simpl = Simpl(cfg, level.prior, level.layout.state_dim, level.layout.latent_dim, len(checkpoint["enc_buffers"]))
    simpl.load_state_dict(checkpoint["simpl"])
    return simpl.eval(), checkpoint, read_metrics(run_dir), json.loads((run_dir / "run.json").read_text())
