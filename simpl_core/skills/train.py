"""Train the skill model on offline data: progress bar, metrics (JSONL), checkpoints with resume, loss-curve PNG.

A run directory holds config.yaml, metrics.jsonl, checkpoint.pt (latest, written atomically), best.pt (kitchen,
with select_every: the model that replayed held-out demonstrations best), loss_curve.png and, when the run
completes, summary.json.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml
from tqdm import tqdm

from simpl_core.data.minari_io import load_dataset
from simpl_core.data.windows import WindowSampler
from simpl_core.envs.domains import domain
from simpl_core.runs import (
    CHECKPOINT,
    METRICS,
    check_resumed_config,
    check_run_dir,
    config_from_yaml,
    read_metrics,
    save_checkpoint,
    truncate_metrics,
)
from simpl_core.runtime.bundle import SKILL_WEIGHTS
from simpl_core.skills.model import SkillModel, SkillModelConfig
from simpl_core.skills.replay import skill_replay_subtasks, window_replay_error

SUMMARY = "summary.json"
BEST = "best.pt"  # the model selected by closed-loop replay, with its step and scores


@dataclass
class SkillTrainConfig:
    domain: str = "maze"
    """which DomainSpec the skills are for"""
    model: dict = field(default_factory=dict)
    """SkillModelConfig fields except the state/action dims"""
    batch_size: int = 128
    """windows per gradient step"""
    learning_rate: float = 1e-3
    """RAdam"""
    lr_schedule: str = "constant"
    """"constant" (SPiRL) or "cosine": decays to min_learning_rate at `steps`"""
    min_learning_rate: float = 1e-5
    """end of the cosine schedule"""
    steps: int = 15000
    """gradient steps"""
    inputs: str | list = "all"
    """what decoder and prior see: "all", "positions" (D4RL's kitchen layout) or a list of observation names; the
    encoder always sees the whole observation"""
    select_every: int = 0
    """kitchen: steps between closed-loop replays of held-out (validation) demonstrations; the best checkpoint by
    subtasks replayed is kept as best.pt (0: no selection, the last checkpoint is the model)"""
    select_episodes: int = 30
    """validation episodes replayed at each selection"""
    init_from: str | None = None
    """bundle whose skill weights (and normalisation) start the training, to continue a run past one session without its
    optimiser state or data"""
    init_grad_clip: float = 1e-3
    """grad-norm clip during the first steps only"""
    init_grad_clip_steps: int = 100
    """... for this many steps"""
    val_fraction: float = 0.01
    """share of episodes held out"""
    val_every: int = 500
    """steps between validation passes"""
    val_windows: int = 2048
    """windows per validation pass"""
    log_every: int = 50
    """steps between metric rows"""
    checkpoint_every: int = 1000
    """steps between checkpoints"""
    threads: int = 2
    """torch CPU threads"""
    seed: int = 0
    """seeds torch, numpy, the window sampler and the validation split"""

    @classmethod
    def from_yaml(cls, path: str | Path) -> "SkillTrainConfig":
        return config_from_yaml(cls, path)

    def model_config(self, state_dim: int, action_dim: int) -> SkillModelConfig:
        try:
            return SkillModelConfig(
                state_dim=state_dim,
                action_dim=action_dim,
                input_slice=domain(self.domain).input_indices(self.inputs),
                **self.model,
            )
        except TypeError as err:
            raise ValueError(f"bad model section in the skill config: {err}") from None


def load_skill_model(run_dir: str | Path) -> tuple[SkillModel, dict]:
    """The trained model (in eval mode) and the checkpoint's metadata: the model selected by closed-loop replay
    (best.pt) where the run selects, else the latest checkpoint."""
    run_dir = Path(run_dir)
    checkpoint = torch.load(run_dir / CHECKPOINT, map_location="cpu", weights_only=False)
    model = SkillModel(SkillModelConfig(**checkpoint["model_config"]))
    if (run_dir / BEST).exists():
        best = torch.load(run_dir / BEST, map_location="cpu", weights_only=False)
        checkpoint = {**checkpoint, "model": best["model"], "step": best["step"], "selection": best["selection"]}
    model.load_state_dict(checkpoint["model"])
    return model.eval(), checkpoint


def init_from_bundle(model: SkillModel, bundle_dir: str | Path) -> None:
    """Start from a shipped bundle's skill weights (encoder, decoder, prior and their normalisation)."""
    weights = torch.load(Path(bundle_dir) / SKILL_WEIGHTS, map_location="cpu", weights_only=True)
    if weights["model_config"] != dataclasses.asdict(model.cfg) or "encoder" not in weights:
        raise ValueError(
            f"{bundle_dir}: its skills ({weights['model_config']}, encoder "
            f"{'kept' if 'encoder' in weights else 'missing'}) cannot start a model "
            f"{dataclasses.asdict(model.cfg)}"
        )
    for part in ("encoder", "decoder", "prior"):
        getattr(model, part).load_state_dict(weights[part])


def _validate(model: SkillModel, val_states: torch.Tensor, val_actions: torch.Tensor) -> dict[str, float]:
    model.eval()
    with torch.no_grad():
        _, parts = model.loss(val_states, val_actions)
    errors = model.reconstruction_errors(val_states, val_actions)
    model.train()
    return {
        "val_reconstruction_mse": errors["mse"],
        "val_arm_mse": errors["arm_mse"],
        "val_prior_nll": parts["prior_nll"],
        "val_kl": parts["kl"],
    }


def learning_rate(cfg: SkillTrainConfig, step: int) -> float:
    if cfg.lr_schedule == "constant":
        return cfg.learning_rate
    if cfg.lr_schedule == "cosine":
        progress = min(step / cfg.steps, 1.0)
        return cfg.min_learning_rate + 0.5 * (cfg.learning_rate - cfg.min_learning_rate) * (
            1 + math.cos(math.pi * progress)
        )
    raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {cfg.lr_schedule!r}")


def plot_losses(run_dir: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(run_dir)
    train = [r for r in rows if "loss" in r]
    val = [r for r in rows if "val_reconstruction_mse" in r]
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for ax, key, title in zip(
        axes,
        ("reconstruction", "kl", "prior_nll"),
        ("reconstruction (0.5 MSE)", "KL(q || N(0,I)) per dim", "prior NLL"),
    ):
        ax.plot([r["step"] for r in train], [r[key] for r in train], label="train", linewidth=0.8)
        ax.set_title(title)
        ax.set_xlabel("step")
    axes[0].plot([r["step"] for r in val], [0.5 * r["val_reconstruction_mse"] for r in val], "o-", label="held-out")
    axes[2].plot([r["step"] for r in val], [r["val_prior_nll"] for r in val], "o-", label="held-out")
    axes[0].set_yscale("log")
    for ax in axes:
        ax.legend()
    out = run_dir / "loss_curve.png"
    fig.savefig(out, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return out


def train_skills(
    cfg: SkillTrainConfig, dataset_path: str | Path, run_dir: str | Path, resume: bool = False, progress: bool = True
) -> dict:
    """Train (or resume) and return the run summary."""
    run_dir = Path(run_dir)
    check_run_dir(run_dir, resume)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    dataset = load_dataset(dataset_path)
    sampler = WindowSampler(dataset, horizon=cfg.model.get("horizon", 10), seed=cfg.seed)
    train_windows, val_windows = sampler.split(cfg.val_fraction, seed=cfg.seed)
    val_states, val_actions = map(torch.from_numpy, val_windows.sample(cfg.val_windows))
    model_cfg = cfg.model_config(dataset.observation_dim, dataset.action_dim)
    model = SkillModel(model_cfg)
    if cfg.init_from:
        init_from_bundle(model, cfg.init_from)
    else:
        model.fit_normalization(*map(torch.from_numpy, train_windows.flat_arrays()))
    optimizer = torch.optim.RAdam(model.parameters(), lr=cfg.learning_rate)
    selector = ReplaySelector(cfg, val_windows.episodes, run_dir) if cfg.select_every else None
    step, elapsed = 0, 0.0

    settings = {**dataclasses.asdict(cfg), "dataset": str(dataset_path), "model_config": dataclasses.asdict(model_cfg)}
    if resume and (run_dir / CHECKPOINT).exists():
        check_resumed_config(run_dir, yaml.safe_load((run_dir / "config.yaml").read_text()), settings)
        checkpoint = torch.load(run_dir / CHECKPOINT, map_location="cpu", weights_only=False)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        train_windows._rng.bit_generator.state = checkpoint["sampler_rng"]
        torch.set_rng_state(checkpoint["torch_rng"])
        step, elapsed = checkpoint["step"], checkpoint["elapsed_s"]
        truncate_metrics(run_dir, "step", step)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))

    def checkpoint_now() -> None:
        save_checkpoint(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "model_config": dataclasses.asdict(model_cfg),
                "train_config": dataclasses.asdict(cfg),
                "dataset": str(dataset_path),
                "step": step,
                "elapsed_s": elapsed,
                "sampler_rng": train_windows._rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
            },
            run_dir,
        )

    model.train()
    bar = tqdm(total=cfg.steps, initial=step, desc="skills", unit="step", disable=not progress)
    with (run_dir / METRICS).open("a") as metrics:
        while step < cfg.steps:
            started = time.perf_counter()
            states, actions = map(torch.from_numpy, train_windows.sample(cfg.batch_size))
            loss, parts = model.loss(states, actions)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"skill loss became {loss.item()} at step {step} ({parts}); the last "
                    f"checkpoint in {run_dir} is intact"
                )
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(cfg, step)
            optimizer.zero_grad()
            loss.backward()
            if step < cfg.init_grad_clip_steps:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.init_grad_clip)
            optimizer.step()
            step += 1
            elapsed += time.perf_counter() - started
            bar.update(1)
            if step % cfg.log_every == 0:
                row = {
                    "step": step,
                    **parts,
                    "elapsed_s": round(elapsed, 2),
                    "windows_per_s": round(step * cfg.batch_size / elapsed, 1),
                }
                bar.set_postfix(
                    rec=f"{parts['reconstruction']:.4f}", kl=f"{parts['kl']:.2f}", prior=f"{parts['prior_nll']:.2f}"
                )
                metrics.write(json.dumps(row) + "\n")
            if step % cfg.val_every == 0 or step == cfg.steps:
                metrics.write(
                    json.dumps(
                        {"step": step, **_validate(model, val_states, val_actions), "elapsed_s": round(elapsed, 2)}
                    )
                    + "\n"
                )
            if selector and (step % cfg.select_every == 0 or step == cfg.steps):
                metrics.write(
                    json.dumps({"step": step, **selector.evaluate(model, step), "elapsed_s": round(elapsed, 2)}) + "\n"
                )
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                metrics.flush()
                checkpoint_now()
    bar.close()
    plot_losses(run_dir)
    summary = summarize_run(run_dir, cfg)
    (run_dir / SUMMARY).write_text(json.dumps(summary, indent=2))
    return summary


class ReplaySelector:
    """Checkpoint selection by what matters downstream: the skills replaying held-out demonstrations closed-loop
    (subtasks per episode; ties go to the later step). The best model so far is written to best.pt."""

    def __init__(self, cfg: SkillTrainConfig, episodes: list, run_dir: Path):
        if cfg.domain != "kitchen":
            raise ValueError("select_every needs the kitchen domain (replay counts kitchen subtasks)")
        self.episodes, self.path = episodes[: cfg.select_episodes], run_dir / BEST
        self.best = torch.load(self.path, weights_only=False)["selection"] if self.path.exists() else None

    def evaluate(self, model: SkillModel, step: int) -> dict:
        model.eval()
        score = skill_replay_subtasks(model, self.episodes)
        row = {"replay_subtasks": score, **window_replay_error(model, self.episodes, windows=128)}
        model.train()
        if self.best is None or score >= self.best["replay_subtasks"]:
            self.best = {"step": step, **row}
            torch.save({"model": model.state_dict(), "step": step, "selection": self.best}, self.path)
        return {**row, "best_step": self.best["step"]}


def summarize_run(run_dir: Path, cfg: SkillTrainConfig) -> dict:
    """Throughput, final held-out error, and when the held-out error first came within 10 % of its final value."""
    rows = read_metrics(run_dir)
    val = [r for r in rows if "val_reconstruction_mse" in r]
    final = val[-1]
    converged = next(r for r in val if r["val_reconstruction_mse"] <= 1.1 * final["val_reconstruction_mse"])
    selections = [r for r in rows if "replay_subtasks" in r]
    selected = (
        {
            "selected_step": selections[-1]["best_step"],
            "selected_replay_subtasks": max(r["replay_subtasks"] for r in selections),
        }
        if selections
        else {}
    )
    return {
        **selected,
        "steps": final["step"],
        "wall_clock_s": final["elapsed_s"],
        "windows_per_s": round(final["step"] * cfg.batch_size / final["elapsed_s"], 1),
        "val_reconstruction_mse": final["val_reconstruction_mse"],
        "val_arm_mse": final["val_arm_mse"],
        "val_prior_nll": final["val_prior_nll"],
        "converged_step": converged["step"],
        "converged_wall_clock_s": converged["elapsed_s"],
    }
