"""SiMPL mechanics on the smoke configuration: buffers, coefficients, condition sizes, the encoder's permutation
invariance, high-level transition packing, truncation vs termination, and the pipeline end to end."""

import csv
import dataclasses
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from simpl_core.cli import main
from simpl_core.envs import make_vector_env
from simpl_core.envs.maze.task import MazeTask
from simpl_core.experiments.harness import sample_efficiency
from simpl_core.experiments.results import block_table, checkpoint_errors, checkpoint_table, curves, learning_table
from simpl_core.meta.adapt import TargetConfig
from simpl_core.meta.config import SimplConfig
from simpl_core.meta.simpl import MetaTrainer, Simpl, load_meta_run
from simpl_core.paths import resource
from simpl_core.rl.buffers import EpisodeBuffer, TransitionLayout
from simpl_core.rl.constrained_sac import SacConfig
from simpl_core.rl.levels import action_level
from simpl_core.rl.nets import PriorResidualPolicy, SetTransformerEncoder
from simpl_core.rl.rollout import rollout_wave
from simpl_core.runtime.protocol import e_star_inputs
from simpl_core.skills.model import SkillModelConfig, SkillPrior
from simpl_core.tasks import resolve_tasks

SMOKE = resource("config", "simpl_smoke.yaml")


def small_prior() -> SkillPrior:
    torch.manual_seed(0)
    return SkillPrior(SkillModelConfig(state_dim=4, action_dim=2, hidden_dim=16, prior_blocks=1)).eval()


def test_buffer_evicts_whole_episodes_fifo():
    buffer = EpisodeBuffer(capacity=10, width=3)
    for value in range(4):
        buffer.add(np.full((4, 3), value, np.float32))
    assert len(buffer) == 8 and set(np.unique(buffer.all())) == {2.0, 3.0}  # the two oldest episodes are gone
    samples = buffer.sample(1000, np.random.default_rng(0))
    assert samples.shape == (1000, 3) and set(np.unique(samples)) == {2.0, 3.0}
    with pytest.raises(ValueError, match="width|array"):
        buffer.add(np.zeros((2, 4), np.float32))


def test_encoder_is_permutation_invariant_and_takes_any_set_size():
    torch.manual_seed(0)
    encoder = SetTransformerEncoder(in_dim=20, task_dim=5, hidden_dim=32, heads=4, inducing_points=8)
    context = torch.randn(3, 50, 20)
    mean, std = encoder(context)
    shuffled_mean, shuffled_std = encoder(context[:, torch.randperm(50)])
    torch.testing.assert_close(mean, shuffled_mean, atol=1e-5, rtol=0)
    torch.testing.assert_close(std, shuffled_std, atol=1e-5, rtol=0)
    assert encoder(torch.randn(1, 1, 20))[0].shape == (1, 5) and torch.all(std > 0.001)


def make_simpl(cfg: SimplConfig, tasks: int = 3) -> tuple[Simpl, list, list]:
    simpl = Simpl(cfg, small_prior(), state_dim=4, latent_dim=10, num_tasks=tasks)
    rng = np.random.default_rng(0)
    enc = [EpisodeBuffer(100, simpl.layout.width) for _ in range(tasks)]
    rl = [EpisodeBuffer(100, simpl.layout.width) for _ in range(tasks)]
    for buffers in (enc, rl):
        for buffer in buffers:
            buffer.add(rng.standard_normal((40, simpl.layout.width)).astype(np.float32))
    return simpl, enc, rl


def test_spirls_untrained_policy_is_the_skill_prior_and_simpls_starts_from_default_init():
    state, e = torch.randn(7, 4), torch.randn(7, 3)
    spirl = PriorResidualPolicy(small_prior(), state_dim=4, cond_dim=3, latent_dim=10, hidden_dim=16, hidden_layers=2)
    mean, std = spirl(state, e)
    prior_mean, prior_std = spirl.prior_dist(state)
    torch.testing.assert_close(mean, prior_mean)
    torch.testing.assert_close(std, 0.001 + prior_std, atol=1e-4, rtol=1e-4)
    simpl, _, _ = make_simpl(SimplConfig.from_yaml(SMOKE))  # the original's head: PyTorch's default init
    assert simpl.policy.residual[-1].weight.abs().sum() > 0
    assert not torch.allclose(simpl.policy(state, e)[0], simpl.policy.prior_dist(state)[0])


def test_a_tasks_encoder_coefficient_moves_only_on_steps_that_sample_the_task():
    # One λ_large per task, as the original: Adam's momentum must not move those of tasks absent from a step.
    cfg = dataclasses.replace(SimplConfig.from_yaml(SMOKE), n_post_batch=1, target_enc_post_kl=0.0)
    simpl, enc, rl = make_simpl(cfg, tasks=4)
    rng = np.random.default_rng(3)
    moved_per_step = []
    for _ in range(8):
        before = torch.stack(list(simpl.enc_post_reg)).detach().clone()
        simpl.update(enc, rl, rng)
        moved_per_step.append(int((torch.stack(list(simpl.enc_post_reg)).detach() != before).sum()))
    assert moved_per_step == [1] * 8


def test_weights_saved_with_one_encoder_coefficient_tensor_still_load():
    simpl, _, _ = make_simpl(SimplConfig.from_yaml(SMOKE))
    weights = simpl.state_dict()
    stacked = torch.stack([weights.pop(f"enc_post_reg.{t}") for t in range(3)]) + 1.0
    again, _, _ = make_simpl(SimplConfig.from_yaml(SMOKE))
    again.load_state_dict({**weights, "enc_post_reg": stacked})
    torch.testing.assert_close(torch.stack(list(again.enc_post_reg)).detach(), stacked)


def test_posterior_contexts_are_drawn_after_the_iterations_prior_episodes_join_the_encoder_buffers(meta_bundle):
    bundle, meta = meta_bundle
    simpl, *_ = load_meta_run(meta, bundle)
    level = action_level("skills", bundle)
    tasks = resolve_tasks(str(meta.parent / "tasks.yaml")).tasks
    trainer = MetaTrainer(simpl.cfg, simpl, tasks, level.decode, level.horizon)
    trainer.warm_up()
    sizes_seen, draw = [], trainer.posterior_conds

    def drawing_after_looking(ids):
        sizes_seen.append([len(b) for b in trainer.enc_buffers])
        return draw(ids)

    trainer.posterior_conds = drawing_after_looking
    before = [len(b) for b in trainer.enc_buffers]
    row = trainer.iterate()
    trainer.close()
    assert all(seen > size for seen, size in zip(sizes_seen[0], before))
    assert len(row["posterior_returns"]) == len(row["prior_returns"]) == len(tasks)


def test_relabelled_meta_training_pools_every_episode_and_checkpoints_the_pools(meta_bundle):
    bundle, meta = meta_bundle
    simpl, *_ = load_meta_run(meta, bundle)
    cfg = dataclasses.replace(simpl.cfg, relabel_fraction=0.5)
    level = action_level("skills", bundle)
    tasks = resolve_tasks(str(meta.parent / "tasks.yaml")).tasks
    trainer = MetaTrainer(cfg, simpl, tasks, level.decode, level.horizon)
    trainer.warm_up()
    row = trainer.iterate()
    trainer.close()
    assert len(trainer.enc_pool) == sum(len(b) for b in trainer.enc_buffers)  # prior episodes only
    assert len(trainer.rl_pool) == sum(len(b) for b in trainer.rl_buffers)  # both kinds
    assert 0.0 <= row["rewarded_context_share"] <= 1.0
    again = MetaTrainer(cfg, simpl, tasks, level.decode, level.horizon)
    again.load_state_dict(trainer.state_dict())
    np.testing.assert_array_equal(again.rl_pool.buffer.all(), trainer.rl_pool.buffer.all())
    with pytest.raises(ValueError, match="relabel_fraction"):
        MetaTrainer(dataclasses.replace(cfg, relabel_fraction=1.5), simpl, tasks, level.decode, level.horizon)


def test_update_uses_small_and_large_contexts_and_coefficients_only_grow():
    cfg = SimplConfig.from_yaml(SMOKE)
    # Targets far above any KL: the dual gradient says "decrease" every step, which must be refused...
    low = dataclasses.replace(
        cfg, target_enc_prior_kl=1e6, target_enc_post_kl=1e6, target_policy_prior_kl=1e6, target_policy_post_kl=1e6
    )
    simpl, enc, rl = make_simpl(low)
    sizes = []
    simpl.encoder.register_forward_hook(lambda module, args, out: sizes.append(tuple(args[0].shape)))
    before = [p.detach().clone() for p in simpl.coefficients()]
    for _ in range(5):
        simpl.update(enc, rl, np.random.default_rng(1))
    assert all(torch.equal(a, b.detach()) for a, b in zip(before, simpl.coefficients()))
    assert sizes[:2] == [
        (cfg.n_prior_batch, cfg.prior_enc_size, simpl.layout.width),
        (cfg.n_post_batch, cfg.post_enc_size, simpl.layout.width),
    ]
    # ... and targets at zero: every KL exceeds them, so every coefficient grows.
    high = dataclasses.replace(
        cfg, target_enc_prior_kl=0.0, target_enc_post_kl=0.0, target_policy_prior_kl=0.0, target_policy_post_kl=0.0
    )
    simpl, enc, rl = make_simpl(high)
    before = simpl.coefficient_values()
    for _ in range(5):
        metrics = simpl.update(enc, rl, np.random.default_rng(2))
    after = simpl.coefficient_values()
    assert all(after[k] > before[k] for k in ("lambda_small", "beta_small", "beta_large"))
    assert np.isfinite(list(metrics.values())).all()


def test_policy_coefficients_may_fall_when_not_monotone():
    # SPiRL's alpha: KLs far under their targets lower the policy's coefficients; the encoder's still only grow.
    cfg = dataclasses.replace(
        SimplConfig.from_yaml(SMOKE),
        monotone_policy_reg=False,
        target_enc_prior_kl=1e6,
        target_enc_post_kl=1e6,
        target_policy_prior_kl=1e6,
        target_policy_post_kl=1e6,
    )
    simpl, enc, rl = make_simpl(cfg)
    before = simpl.coefficient_values()
    for _ in range(5):
        simpl.update(enc, rl, np.random.default_rng(1))
    after = simpl.coefficient_values()
    assert after["beta_small"] < before["beta_small"] and after["beta_large"] < before["beta_large"]
    assert after["lambda_small"] == before["lambda_small"] and after["lambda_large_mean"] == before["lambda_large_mean"]
    fast, enc, rl = make_simpl(dataclasses.replace(cfg, coefficient_learning_rate=10 * cfg.coefficient_learning_rate))
    for _ in range(5):
        fast.update(enc, rl, np.random.default_rng(1))
    assert fast.coefficient_values()["beta_large"] < after["beta_large"]  # the dual step has its own rate


def test_update_runs_with_large_contexts_only():
    # n_prior_batch: 0 with the set encoder: one task batch of one large context per step, as SPiRL's one batch.
    cfg = dataclasses.replace(SimplConfig.from_yaml(SMOKE), n_prior_batch=0, n_post_batch=1)
    simpl, enc, rl = make_simpl(cfg)
    metrics = simpl.update(enc, rl, np.random.default_rng(0))
    assert np.isfinite(list(metrics.values())).all()
    assert metrics["encoder_kl_small"] == metrics["policy_kl_small"] == 0 and metrics["encoder_kl_large"] > 0


def test_rewarded_context_share_counts_large_contexts_holding_a_reward():
    cfg = SimplConfig.from_yaml(SMOKE)
    simpl, enc, rl = make_simpl(cfg)
    reward = simpl.layout.state_dim + simpl.layout.latent_dim
    for task, buffer in enumerate(enc):  # only task 0's context transitions carry a reward
        rows = buffer.all().copy()
        rows[:, reward] = float(task == 0)
        buffer.load_state_dict({"episodes": [rows]})
    for seed in range(5):
        draws = np.random.default_rng(seed)  # the update draws the small-, then the large-context tasks
        draws.integers(len(enc), size=cfg.n_prior_batch)
        large_tasks = draws.integers(len(enc), size=cfg.n_post_batch)
        share = simpl.update(enc, rl, np.random.default_rng(seed))["rewarded_context_share"]
        assert share == np.mean(large_tasks == 0)


def scripted_wave(horizon: int, goal):
    """Push the ball along +y from the start: it reaches (10, 12) within ~30 steps; (1, 19) never."""
    env = make_vector_env("maze", 1, max_episode_steps=horizon)
    layout = TransitionLayout(4, 10)
    push = lambda states, z: np.tile([[0.0, 1.0]], (len(states), 1))  # noqa: E731
    skills = lambda states, conds: np.zeros((len(states), 10), np.float32)  # noqa: E731
    return rollout_wave(env, [MazeTask(goal)], skills, push, layout, 10, seed=0)[0], layout


def test_high_level_packing_and_termination():
    episode, layout = scripted_wave(horizon=2000, goal=(10, 12))
    rows = layout.unpack(torch.from_numpy(episode.rows))
    assert episode.success and episode.episode_return == 1.0
    assert len(episode.rows) == -(-episode.env_steps // 10)  # one transition per started 10-step segment
    assert rows["done"][-1] == 1 and rows["done"][:-1].sum() == 0  # only the final segment is terminal
    assert rows["reward"].sum() == 1.0 and rows["reward"][-1] == 1.0
    torch.testing.assert_close(rows["next_state"][:-1], rows["state"][1:])  # segments chain


def test_time_limit_truncation_is_not_done():
    episode, layout = scripted_wave(horizon=35, goal=(1, 19))
    rows = layout.unpack(torch.from_numpy(episode.rows))
    assert not episode.success and episode.env_steps == 35
    assert len(episode.rows) == 4 and rows["done"].sum() == 0 and rows["reward"].sum() == 0


@pytest.fixture(scope="module")
def meta_bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("meta")
    data, skills, bundle, meta = root / "maze-smoke-v0", root / "skills", root / "bundle", root / "meta"
    assert main(["data", "maze", "--episodes", "8", "--num-envs", "4", "--out", str(data)]) == 0
    assert (
        main(
            [
                "skills",
                "train",
                "--config",
                str(resource("config", "skills_smoke.yaml")),
                "--dataset",
                str(data),
                "--out",
                str(skills),
            ]
        )
        == 0
    )
    assert main(["skills", "export", str(skills), "--out", str(bundle)]) == 0
    tasks = root / "tasks.yaml"
    tasks.write_text("domain: maze\ntask_sets:\n  near: [[10, 12], [11, 10]]\n")
    assert (
        main(
            [
                "meta",
                "train",
                "--config",
                str(SMOKE),
                "--bundle",
                str(bundle),
                "--tasks",
                str(tasks),
                "--out",
                str(meta),
            ]
        )
        == 0
    )
    assert main(["meta", "export", str(meta), "--out", str(bundle)]) == 0
    return bundle, meta


def test_meta_training_logs_and_resumes(meta_bundle, capsys):
    _, meta = meta_bundle
    rows = [json.loads(line) for line in (meta / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2]
    for key in (
        "posterior_return",
        "prior_return",
        "critic_loss",
        "beta_large",
        "lambda_small",
        "env_steps_per_s",
        "policy_kl_large",
        "encoder_kl_small",
    ):
        assert key in rows[-1]
    assert 0.0 <= rows[-1]["rewarded_context_share"] <= 1.0  # exact counting: see the test above
    threads = torch.get_num_threads()
    assert (
        main(
            [
                "meta",
                "train",
                "--config",
                str(SMOKE),
                "--bundle",
                str(meta_bundle[0]),
                "--tasks",
                str(meta.parent / "tasks.yaml"),
                "--out",
                str(meta),
                "--resume",
                "--iterations",
                "3",
                "--threads",
                "2",
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in (meta / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    assert torch.get_num_threads() == 2  # --threads overrode the smoke config's 1
    torch.set_num_threads(threads)
    reseeded = meta.parent / "reseeded.yaml"
    reseeded.write_text(f"base: {SMOKE}\nseed: 7\n")
    capsys.readouterr()
    assert (
        main(
            [
                "meta",
                "train",
                "--config",
                str(reseeded),
                "--bundle",
                str(meta_bundle[0]),
                "--tasks",
                str(meta.parent / "tasks.yaml"),
                "--out",
                str(meta),
                "--resume",
                "--iterations",
                "4",
            ]
        )
        == 2
    )
    assert "seed: 0 -> 7" in capsys.readouterr().err  # the run's own config wins on --resume

    capsys.readouterr()
    assert main(["meta", "report", str(meta), "--block", "2"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "| iterations | 1–2 | 3–3 |"
    first_two = np.mean([r["posterior_return"] for r in rows[:2]])
    assert table[2] == f"| return, e ~ q(e \\| c) | {first_two:.2f} | {rows[2]['posterior_return']:.2f} |"
    assert f"3 iterations, {rows[-1]['env_steps']} env steps" in "\n".join(table)
    shares = next(line for line in table if line.startswith("| large contexts holding a reward |"))
    assert shares.endswith(f"| {rows[2]['rewarded_context_share']:.2f} |")
    # the posterior return split by context, and one row per training task over the last block
    split = [rows[2][f"posterior_return_{kind}_context"] for kind in ("rewarded", "blank")]
    assert any(value is not None for value in split)
    rewarded = next(line for line in table if line.startswith("| return, e ~ q(e \\| c), c holds a reward |"))
    assert rewarded.endswith(f"| {split[0]:.2f} |" if split[0] is not None else "| – |")
    assert table[-2:] == [
        f"| 0: goal(10,12) | {rows[2]['posterior_returns'][0]:.2f} | {rows[2]['prior_returns'][0]:.2f} |",
        f"| 1: goal(11,10) | {rows[2]['posterior_returns'][1]:.2f} | {rows[2]['prior_returns'][1]:.2f} |",
    ]
    assert any(line.startswith("| reward − none, within a task") for line in table)
    assert main(["meta", "report", str(meta.parent)]) == 2  # not a run: says so


def test_the_within_task_split_leaves_out_tasks_whose_contexts_were_all_alike():
    from simpl_core.cli.meta import within_task_gap

    # task 0: 1.0 after rewarded, 0.5 after blank contexts; task 1 always rewarded (an easy task): left out
    block = [
        {"posterior_returns": [1.0, 1.0], "rewarded_contexts": [1, 1]},
        {"posterior_returns": [0.5, 1.0], "rewarded_contexts": [0, 1]},
        {"posterior_returns": [0.5, 0.0], "rewarded_contexts": [0, 1]},
    ]
    assert within_task_gap(block) == "+0.50 (1)"
    assert within_task_gap(block[:1]) == "–"


def test_meta_bundle_graphs_match_torch(meta_bundle):
    from simpl_core.export.meta import load_bundle_meta

    bundle_dir, _ = meta_bundle
    simpl, bundle = load_bundle_meta(bundle_dir)
    assert set(bundle.manifest["graphs"]) == {"skill_decoder", "skill_prior", "high_level_policy", "task_encoder"}
    rng = np.random.default_rng(0)
    for set_size in (1, 7, 300):  # the task encoder takes any context size
        context = rng.standard_normal((1, set_size, simpl.layout.width)).astype(np.float32)
        mean, std = bundle.encode_task(context)
        with torch.no_grad():
            torch_mean, torch_std = simpl.encoder(torch.from_numpy(context))
        np.testing.assert_allclose(mean, torch_mean.numpy(), atol=1e-5, rtol=0)
        np.testing.assert_allclose(std, torch_std.numpy(), atol=1e-5, rtol=0)
    states = rng.uniform([0, 0, -5, -5], [21, 21, 5, 5], (64, 4)).astype(np.float32)
    e = rng.standard_normal((64, simpl.cfg.task_dim)).astype(np.float32)
    mean, log_std = bundle.high_level(states, e)
    with torch.no_grad():
        torch_mean, torch_std = simpl.policy(torch.from_numpy(states), torch.from_numpy(e))
    np.testing.assert_allclose(mean, torch_mean.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.exp(log_std), torch_std.numpy(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "name",
    [
        "simpl_maze_cpu",
        "simpl_maze_paper",
        "simpl_maze_cpu_ctx2048",
        "simpl_maze_cpu_buf20k",
        "simpl_maze_cpu_reuse64",
        "simpl_maze_cpu_reuse8",
        "pearl_maze_cpu",
        "mtrl_maze_cpu",
        "simpl_kitchen_cpu",
        "simpl_kitchen_paper",
        "pearl_kitchen_cpu",
        "mtrl_kitchen_cpu",
    ],
)
def test_shipped_meta_training_configs_load(name):
    cfg = SimplConfig.from_yaml(resource("config", f"{name}.yaml"))
    assert cfg.domain == name.split("_")[1] and cfg.n_prior_batch + cfg.n_post_batch > 0
    assert (cfg.actions == "primitive") == name.startswith("pearl")
    assert (cfg.task_conditioning == "task_id") == name.startswith("mtrl") == (cfg.n_prior_batch == 0)


@pytest.mark.parametrize(
    "name, base, changed",
    [
        ("simpl_maze_cpu_reuse8", "simpl_maze_cpu", {"reuse_rate", "max_updates_per_iteration"}),
        ("simpl_maze_cpu_buf20k", "simpl_maze_cpu", {"enc_buffer_size", "buffer_size"}),
        ("studies/simpl_maze_cpu_relabel", "simpl_maze_cpu", {"relabel_fraction"}),
        ("mtrl_kitchen_cpu", "simpl_kitchen_cpu", {"task_conditioning", "n_prior_batch", "n_post_batch", "iterations"}),
        (
            "studies/simpl_maze_1task_matched",
            "simpl_maze_cpu",
            {"n_prior_batch", "n_post_batch", "reuse_rate", "max_updates_per_iteration", "iterations", "threads"},
        ),
        (
            "studies/simpl_maze_1task_matched_beta05",
            "studies/simpl_maze_1task_matched",
            {"init_policy_prior_reg", "init_policy_post_reg"},
        ),
        (
            "studies/simpl_maze_1task_matched_beta05_free",
            "studies/simpl_maze_1task_matched_beta05",
            {"monotone_policy_reg"},
        ),
        (
            "studies/simpl_maze_matched_free_fastcoef",
            "studies/simpl_maze_1task_matched_beta05_free",
            {"coefficient_learning_rate"},
        ),
        (
            "studies/simpl_maze_cpu_beta05_free_fastcoef",
            "studies/simpl_maze_cpu_beta05_free",
            {"coefficient_learning_rate"},
        ),
        (
            "studies/simpl_maze_cpu_beta05_free",
            "simpl_maze_cpu",
            {"init_policy_prior_reg", "init_policy_post_reg", "monotone_policy_reg"},
        ),
    ],
)
def test_experiment_configs_change_only_what_they_state(name, base, changed):
    def load(config):
        return dataclasses.asdict(SimplConfig.from_yaml(resource("config", f"{config}.yaml")))

    cfg, base_cfg = load(name), load(base)
    assert {key for key in cfg if cfg[key] != base_cfg[key]} == changed


def baseline_run(meta_bundle, name: str, extra_config: str):
    bundle_dir, meta = meta_bundle
    config = meta.parent / f"{name}_smoke.yaml"
    config.write_text(SMOKE.read_text() + extra_config)
    out = meta.parent / name
    assert (
        main(
            [
                "meta",
                "train",
                "--config",
                str(config),
                "--bundle",
                str(bundle_dir),
                "--tasks",
                str(meta.parent / "tasks.yaml"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


@pytest.fixture(scope="module")
def pearl_run(meta_bundle):
    return baseline_run(meta_bundle, "pearl", "actions: primitive\n")


@pytest.fixture(scope="module")
def mtrl_run(meta_bundle):
    return baseline_run(meta_bundle, "mtrl", "task_conditioning: task_id\nn_prior_batch: 0\n")  # as its CPU config


def test_pearl_acts_with_primitive_actions_and_stays_out_of_bundles(meta_bundle, pearl_run):
    from simpl_core.export.meta import export_meta
    from simpl_core.meta.simpl import load_meta_run
    from simpl_core.rl.nets import StandardNormalPrior
    from simpl_core.runtime.bundle import BundleError

    pearl, checkpoint, rows, _ = load_meta_run(pearl_run, meta_bundle[0])
    assert isinstance(pearl.policy.prior, StandardNormalPrior)
    assert pearl.layout.latent_dim == 2  # z is the action
    assert rows[-1]["env_steps"] == checkpoint["env_steps"] > 0
    episode_rows = checkpoint["rl_buffers"][0]["episodes"][0]
    assert len(episode_rows) == 100  # horizon 100, one transition per env step (the goals are out of reach)
    with pytest.raises(BundleError, match="baseline run"):
        export_meta(pearl_run, meta_bundle[0], "simpl meta export")


def test_mtrl_learns_one_embedding_per_task_and_stays_out_of_bundles(meta_bundle, mtrl_run):
    from simpl_core.export.meta import export_meta
    from simpl_core.meta.simpl import load_meta_run
    from simpl_core.rl.nets import TaskEmbedding
    from simpl_core.runtime.bundle import BundleError

    mtrl, checkpoint, rows, _ = load_meta_run(mtrl_run, meta_bundle[0])
    assert isinstance(mtrl.encoder, TaskEmbedding) and mtrl.encoder.mean.shape == (2, mtrl.cfg.task_dim)
    assert mtrl.cfg.n_prior_batch == 0 and all(r["encoder_kl_small"] == r["policy_kl_small"] == 0 for r in rows)
    for key, init in (("lambda_small", mtrl.cfg.init_enc_prior_reg), ("beta_small", mtrl.cfg.init_policy_prior_reg)):
        assert all(r[key] == rows[0][key] == pytest.approx(init, rel=1e-2) for r in rows)  # no small batches: still
    assert mtrl.encoder.mean.abs().sum() > 0  # trained through the critic loss from zero
    mean, std = mtrl.condition([1, 0, 1], np.zeros((3, 0, 0), np.float32))  # contexts are ignored
    torch.testing.assert_close(mean[0], mean[2])
    assert not torch.equal(mean[0], mean[1])
    with pytest.raises(BundleError, match="baseline run"):
        export_meta(mtrl_run, meta_bundle[0], "simpl meta export")


POOL_OF_ONE = """
import multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from simpl_core.experiments.harness import exit_with_parent
if __name__ == "__main__":
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=exit_with_parent,
                               initargs=(os.getpid(),))
    print(pool.submit(os.getpid).result(), flush=True)
    pool.submit(time.sleep, 600)
    time.sleep(600)
"""


def test_pool_workers_stop_when_the_grid_process_is_killed(tmp_path):
    script = tmp_path / "grid.py"
    script.write_text(POOL_OF_ONE)
    grid = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(grid.stdout.readline())
    grid.kill()  # SIGKILL: no shutdown of the pool runs
    grid.wait()

    def running() -> bool:  # an exited worker may linger as a zombie of init: state Z
        stat = Path(f"/proc/{worker}/stat")
        return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"

    deadline = time.monotonic() + 10
    while running() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not running()


def test_partial_csv_keeps_every_reported_wave(tmp_path):
    from simpl_core.experiments.results import PartialCsv, read_csv

    (tmp_path / "returns.partial.csv").write_text("left over from an earlier run\n")
    partial = PartialCsv(tmp_path / "returns.partial.csv")  # starts empty
    row = {"method": "spirl", "task": "a", "seed": 0}
    partial.append([{**row, "episode": 1, "return": 0.0}, {**row, "task": "b", "episode": 1, "return": 1.0}])
    partial.append([{**row, "episode": 2, "return": 1.0}])  # task b's learner is behind when the run is cut
    rows = read_csv(partial.path)
    assert [(r["task"], r["episode"], r["return"]) for r in rows] == [
        ("a", "1", "0.0"),
        ("b", "1", "1.0"),
        ("a", "2", "1.0"),
    ]
    episodes, mean, _ = curves(rows)["spirl"]  # the curve covers the episodes every run reached
    assert episodes.tolist() == [1] and mean.tolist() == [0.5]


def test_target_learning_runs_every_method(meta_bundle, pearl_run, mtrl_run, tmp_path, capsys):
    bundle_dir, _ = meta_bundle
    sac = dict(batch_size=8, min_buffer=8)
    cfg = TargetConfig(
        episodes=4,
        exploration_episodes=2,
        horizon=100,
        scratch_hidden=16,
        scratch_layers=1,
        simpl_sac=SacConfig(target_kl=1.0, kl_clip=5.0, increasing_alpha=True, **sac),
        spirl_sac=SacConfig(init_alpha=0.05, **sac),
        sac_sac=SacConfig(init_alpha=0.1, **sac),
    )
    tasks = resolve_tasks("maze-target-10")
    subset = type(tasks)(name="two", domain="maze", tasks=tasks.tasks[:2])
    methods = ["simpl", "spirl", "mtrl", "sac", "pearl", "pearl-ft"]
    result = sample_efficiency(
        methods,
        bundle_dir,
        subset,
        cfg,
        seeds=2,
        out_dir=tmp_path,
        workers=2,
        progress=False,
        runs={"pearl": pearl_run, "mtrl": mtrl_run},
    )
    import csv

    rows = list(csv.DictReader(open(result["csv"])))
    assert len(rows) == 6 * 2 * 2 * 4  # methods x tasks x seeds x episodes
    assert [r["method"] for r in rows[::16]] == methods
    assert all(r["return"] in ("0.0", "1.0") for r in rows)
    assert {r["env_steps"] for r in rows if r["return"] == "0.0"} == {"100"}
    assert (tmp_path / "learning_curves.png").stat().st_size > 5_000
    assert not (tmp_path / "returns.partial.csv").exists()  # written while running, replaced by returns.csv
    assert checkpoint_table(rows, "maze") == {m: {} for m in methods}  # 4 episodes: no paper checkpoint reached yet
    phases = {
        m: [r["phase"] for r in rows if r["method"] == m and r["task"] == rows[0]["task"] and r["seed"] == "0"]
        for m in methods
    }
    assert phases["simpl"] == phases["pearl"] == phases["pearl-ft"] == ["explore", "explore", "learn", "learn"]
    assert phases["mtrl"] == phases["spirl"] == phases["sac"] == ["learn"] * 4
    assert set(result["phases"]["simpl"]) == {"episodes 1-2", "episodes 3-4"}
    # every episode says what learning did: nothing while exploring or for PEARL, gradient steps once learning
    assert all(
        r["updates"] == "0" and r["alpha"] == "" for r in rows if r["phase"] == "explore" or r["method"] == "pearl"
    )
    learned = [r for r in rows if r["method"] in ("simpl", "spirl", "sac") and r["updates"] != "0"]
    assert learned and all(float(r["alpha"]) > 0 and float(r["critic_loss"]) >= 0 for r in learned)
    assert set(result["learning"]) == {"simpl", "spirl", "mtrl", "sac", "pearl-ft"}
    assert set(result["learning"]["spirl"]) == {
        "updates/episode",
        "alpha ep 1",
        "alpha ep 4",
        "policy KL",
        "critic loss",
        "learners",
        "diverged",
    }
    assert main(["eval", "curves", result["csv"], "--exploration-episodes", "2", "--png", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").is_file()
    # runs of other seeds read as one run (seeds split over sessions); an episode in two runs is refused
    from simpl_core.experiments.results import write_csv

    split = [
        write_csv([r for r in rows if r["seed"] == seed], tmp_path / f"seed{seed}" / "returns.csv") for seed in "01"
    ]
    for path in split:
        shutil.copy(tmp_path / "run.json", path.with_name("run.json"))
    assert main(["eval", "curves", *map(str, split), "--png", str(tmp_path / "both.png")]) == 0
    assert (tmp_path / "both.png").is_file()
    # one task's curves, by blocks of episodes: drawn elsewhere than the run's own; an unknown task is refused
    task = rows[0]["task"]
    assert (
        main(["eval", "curves", result["csv"], "--task", task, "--block", "2", "--png", str(tmp_path / "one.png")]) == 0
    )
    assert (tmp_path / "one.png").is_file()
    assert main(["eval", "curves", result["csv"], "--task", task]) == 2
    assert main(["eval", "curves", result["csv"], "--task", "goal(0,0)", "--png", str(tmp_path / "none.png")]) == 2
    assert main(["eval", "curves", str(split[0]), result["csv"], "--png", str(tmp_path / "twice.png")]) == 2
    assert main(["eval", "curves", *map(str, split)]) == 2  # several CSVs need --png
    # the same run twice under two labels: one method from two meta-trainings, side by side, not merged
    capsys.readouterr()
    assert (
        main(
            [
                "eval",
                "curves",
                result["csv"],
                result["csv"],
                "--label",
                "a",
                "--label",
                "b",
                "--png",
                str(tmp_path / "labelled.png"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "simpl-a " in printed and "simpl-b " in printed and "spirl-b " in printed
    assert (
        main(
            [
                "eval",
                "curves",
                result["csv"],
                result["csv"],
                "--label",
                "a",
                "--label",
                "b",
                "--method",
                "simpl-a",
                "--method",
                "spirl-b",
                "--png",
                str(tmp_path / "labelled.png"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "simpl-a " in printed and "spirl-b " in printed and "simpl-b " not in printed
    assert main(["eval", "curves", result["csv"], "--method", "simpl-a", "--png", str(tmp_path / "x.png")]) == 2
    assert main(["eval", "curves", result["csv"], "--label", "a"]) == 2  # would redraw the run's own curves
    assert (
        main(["eval", "curves", result["csv"], result["csv"], "--label", "a", "--png", str(tmp_path / "labelled.png")])
        == 2
    )  # a label per CSV
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["runs"] == {"pearl": str(pearl_run), "mtrl": str(mtrl_run)} and info["episodes"] == 4

    from simpl_core.runtime.bundle import BundleError, PolicyBundle

    bundle_copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, bundle_copy)
    assert main(["eval", "curves", result["csv"], "--exploration-episodes", "2", "--record-in", str(bundle_copy)]) == 0
    recorded = PolicyBundle.load(bundle_copy).manifest["provenance"]["meta"]["target_learning"]
    assert recorded["mean_success"] == result["phases"]["simpl"] and recorded["seeds"] == 2
    info["runs"]["simpl"] = "runs/other"  # SiMPL adapted from another meta-training run: not this bundle's number
    (tmp_path / "run.json").write_text(json.dumps(info))
    with pytest.raises(BundleError, match="did not adapt"):
        from simpl_core.experiments.harness import record_target_learning

        record_target_learning(bundle_copy, tmp_path)


def test_a_bundle_reproduces_its_recorded_numbers_on_fresh_seeds(meta_bundle, tmp_path):
    import yaml

    from simpl_core.experiments.harness import reproduce

    bundle = tmp_path / "bundle"
    shutil.copytree(meta_bundle[0], bundle)
    sac = SacConfig(target_kl=1.0, kl_clip=5.0, increasing_alpha=True, batch_size=8, min_buffer=8)
    cfg = TargetConfig(episodes=21, horizon=40, simpl_sac=sac)  # 20 exploration episodes, 1 of fine-tuning
    tasks = resolve_tasks("maze-target-10")
    sample_efficiency(
        ["simpl"],
        bundle,
        tasks,
        cfg,
        seeds=1,
        out_dir=tmp_path / "recorded",
        workers=2,
        progress=False,
        command="simpl eval sample-efficiency --methods simpl",
    )
    assert main(["eval", "curves", str(tmp_path / "recorded" / "returns.csv"), "--record-in", str(bundle)]) == 0
    with pytest.raises(ValueError, match="overlap"):
        reproduce(bundle, tmp_path / "again", first_seed=0)

    report = reproduce(bundle, tmp_path / "again", first_seed=100, workers=2, progress=False)
    rows = list(csv.DictReader(open(tmp_path / "again" / "returns.csv")))
    assert {r["seed"] for r in rows} == {"100"} and len(rows) == 10 * 21
    assert report["checkpoints"][20]["measured"] == checkpoint_table(rows, "maze")["simpl"][20]
    assert report["reproduced"] == (
        abs(report["checkpoints"][20]["measured"] - report["checkpoints"][20]["recorded"])
        <= report["checkpoints"][20]["tolerance"] + 1e-9
    )

    manifest_path = bundle / "manifest.yaml"  # a recorded number the bundle cannot back up
    manifest = yaml.safe_load(manifest_path.read_text())
    manifest["provenance"]["meta"]["target_learning"]["success_at_checkpoints"][20] = 0.9
    manifest_path.write_text(yaml.safe_dump(manifest))
    assert main(["eval", "reproduce", "--bundle", str(bundle), "--out", str(tmp_path / "third")]) == 1
    assert json.loads((tmp_path / "third" / "reproduce.json").read_text())["checkpoints"]["20"]["reproduced"] is False


def test_simpl_adapts_from_a_run_or_from_the_bundle(meta_bundle):
    from simpl_core.experiments.harness import meta_models
    from simpl_core.runtime.bundle import META_WEIGHTS

    bundle_dir, meta = meta_bundle
    saved = {
        "run": torch.load(meta / "checkpoint.pt", weights_only=False)["simpl"],
        "bundle": torch.load(bundle_dir / META_WEIGHTS, weights_only=True)["simpl"],
    }
    for source, runs in (("run", {"simpl": meta}), ("bundle", None)):
        model = meta_models(["simpl"], bundle_dir, runs)["simpl"]
        for key, value in model.encoder.state_dict().items():
            torch.testing.assert_close(value, saved[source][f"encoder.{key}"])


def test_e_star_comes_from_the_whole_context_or_from_sets_of_the_training_context_size():
    cfg = dataclasses.replace(SimplConfig.from_yaml(SMOKE), post_enc_size=16)
    simpl, _, _ = make_simpl(cfg)
    episodes = [np.random.default_rng(i).standard_normal((30, simpl.layout.width)).astype(np.float32) for i in (1, 2)]
    context = np.concatenate(episodes)
    sets = e_star_inputs(context, 16, 5, np.random.default_rng(7))
    assert sets.shape == (5, 16, simpl.layout.width)
    assert all(any(np.array_equal(row, c) for c in context) for row in sets.reshape(-1, simpl.layout.width))
    assert e_star_inputs(context, 16, 0, None).shape == (1, 60, simpl.layout.width)  # the paper's: all at once

    whole_mean, whole_std = simpl.posterior(episodes, 0, np.random.default_rng(7))
    mean, std = simpl.encoder(torch.from_numpy(context)[None])
    np.testing.assert_allclose(whole_mean, mean[0].detach().numpy(), atol=1e-6)
    matched_mean, _ = simpl.posterior(episodes, 5, np.random.default_rng(7))
    per_set, _ = simpl.encoder(torch.from_numpy(sets))
    np.testing.assert_allclose(matched_mean, per_set.detach().numpy().mean(0), atol=1e-6)
    assert not np.allclose(matched_mean, whole_mean, atol=1e-3)
    with pytest.raises(ValueError, match="0 \\(the whole context\\) or more"):
        e_star_inputs(context, 16, -1, None)
    with pytest.raises(ValueError, match="no transitions"):
        e_star_inputs(context[:0], 16, 3, np.random.default_rng(0))


def test_meta_update_bench_times_each_configs_gradient_step(capsys, tmp_path):
    (tmp_path / "wide.yaml").write_text(f"base: {SMOKE}\nq_hidden: 64\n")
    assert main(["bench", "meta-update", str(SMOKE), str(tmp_path / "wide.yaml"), "--steps", "2"]) == 0
    table = capsys.readouterr().out.splitlines()
    rows = [line.split("|")[1:-1] for line in table[2:]]
    assert [row[0].strip() for row in rows] == [str(SMOKE), str(tmp_path / "wide.yaml")]
    smoke = SimplConfig.from_yaml(SMOKE)
    assert all(float(row[1]) > 0 for row in rows)
    assert int(rows[0][3]) == (smoke.n_prior_batch + smoke.n_post_batch) * smoke.batch_size
    assert main(["bench", "meta-update", str(SMOKE), "--steps", "0"]) == 2


def test_task_inference_probe_conditions_the_policy_on_own_other_and_no_task(meta_bundle, mtrl_run, tmp_path):
    bundle_dir, meta = meta_bundle
    tasks = f"{meta.parent / 'tasks.yaml'}:near"
    probe = [
        "bench",
        "task-inference",
        "--bundle",
        str(bundle_dir),
        "--tasks",
        tasks,
        "--exploration-episodes",
        "2",
        "--episodes",
        "3",
        "--seed",
        "4",
    ]
    reports = []
    for name in ("a", "b"):
        assert main([*probe, "--meta-run", str(meta), "--out", str(tmp_path / f"{name}.json")]) == 0
        reports.append(json.loads((tmp_path / f"{name}.json").read_text()))
    report = reports[0]
    assert {k: v for k, v in report.items() if k != "command_line"} == {
        k: v for k, v in reports[1].items() if k != "command_line"
    }  # seeded: the same numbers twice
    assert report["exploration"]["episodes"] == 2 * 2
    assert all(report["conditions"][c]["episodes"] == 2 * 3 for c in ("inferred", "other task", "prior mean"))
    for row in report["tasks"]:
        assert len(row["e_star"]) == SimplConfig.from_yaml(SMOKE).task_dim and all(s > 0 for s in row["posterior_std"])
        assert all(0.0 <= row[c] <= 1.0 for c in ("exploration", "inferred", "other task", "prior mean"))
    first, second = (np.array(row["e_star"]) for row in report["tasks"])
    spread = np.linalg.norm(first - second) / np.mean([row["posterior_std"] for row in report["tasks"]])
    assert report["e_star_spread"] == pytest.approx(spread, abs=0.01)
    assert main([*probe, "--meta-run", str(mtrl_run), "--out", str(tmp_path / "mtrl.json")]) == 2  # no encoder
    assert main([*probe, "--meta-run", str(meta), "--episodes", "0"]) == 2
    (tmp_path / "one.yaml").write_text("domain: maze\ntask_sets:\n  one: [[10, 12]]\n")
    # no other task to borrow
    assert main([*probe, "--meta-run", str(meta), "--tasks", str(tmp_path / "one.yaml")]) == 2


def test_unknown_methods_and_a_missing_pearl_run_are_refused(meta_bundle, tmp_path):
    tasks = resolve_tasks("maze-target-10")
    with pytest.raises(ValueError, match="unknown methods"):
        sample_efficiency(["simpl", "maml"], meta_bundle[0], tasks, TargetConfig(), 1, tmp_path)
    with pytest.raises(ValueError, match="PEARL meta-training run"):
        sample_efficiency(["pearl"], meta_bundle[0], tasks, TargetConfig(), 1, tmp_path, runs={"pearl": tmp_path})
    with pytest.raises(ValueError, match="MTRL meta-training run"):
        sample_efficiency(["mtrl"], meta_bundle[0], tasks, TargetConfig(), 1, tmp_path)
    with pytest.raises(ValueError, match="SIMPL meta-training run"):
        sample_efficiency(["simpl"], meta_bundle[0], tasks, TargetConfig(), 1, tmp_path, runs={"simpl": tmp_path})


def test_checkpoints_average_a_centred_window_and_skip_exploration():
    rows = [
        {
            "method": m,
            "task": t,
            "seed": 0,
            "episode": e,
            "phase": "explore" if m == "simpl" and e <= 20 else "learn",
            "return": float(e >= 21 if m == "simpl" else e % 2),
        }
        for m in ("simpl", "spirl")
        for t in "ab"
        for e in range(1, 66)
    ]
    table = checkpoint_table(rows, "maze")
    assert table["simpl"] == {20: 1.0, 60: 1.0}  # only episodes 21-22 count at 20; exploration (0.0) is left out
    assert table["spirl"] == {20: 0.4, 60: 0.4}  # episodes 18-22 and 58-62 of an alternating 0/1 return


def test_checkpoint_errors_are_standard_errors_over_task_seed_runs():
    rows = [
        {"method": "spirl", "task": task, "seed": 0, "episode": e, "return": float(task == "a")}
        for task in "abcd"
        for e in range(16, 25)
    ]
    assert checkpoint_errors(rows, "maze") == {"spirl": {20: 0.25}}  # runs 1, 0, 0, 0: std 0.5 / sqrt(4)
    assert checkpoint_errors(rows[:9], "maze") == {"spirl": {20: 0.0}}  # one run: no spread to estimate


def test_block_table_averages_each_block_of_episodes_over_tasks():
    rows = [
        {"method": "spirl", "task": task, "seed": "0", "episode": str(e), "return": str(float(e > 2 and task == "a"))}
        for task in "ab"
        for e in range(1, 6)
    ]
    assert block_table(rows, 2) == {"spirl": {"1-2": 0.0, "3-4": 0.5, "5-5": 0.5}}


def test_learning_table_counts_diverged_learners_and_reports_medians():
    def row(task, episode, critic_loss):
        return {
            "method": "simpl",
            "task": task,
            "seed": "0",
            "episode": str(episode),
            "updates": "200",
            "alpha": "0.002",
            "policy_kl": "0.5" if critic_loss < 1 else "1e9",
            "critic_loss": str(critic_loss),
        }

    rows = [row(task, e, 0.01) for task in "abc" for e in (21, 22)] + [
        row("d", 21, 0.02),
        row("d", 22, 3e14),
        row("e", 21, float("nan")),
    ]
    table = learning_table(rows)["simpl"]
    assert (table["learners"], table["diverged"]) == (5, 2)  # d blew up at episode 22, e's loss is not finite
    assert table["policy KL"] == 0.5 and table["critic loss"] == 0.01  # the blown-up values do not drag the median


def spelled_now(command: str) -> list[str]:
    """A recorded `simpl ...` command line in today's grammar (shipped records keep the spelling they were run with;
    an old `export --skills R --meta M` gives the last of its two commands)."""
    import shlex

    from simpl_core.cli.grammar import new_spellings

    return new_spellings(shlex.split(command)[1:])[-1]


def test_shipped_maze_bundle_is_meta_trained():
    from simpl_core.export.meta import load_bundle_meta

    simpl, bundle = load_bundle_meta(resource("models", "maze"))
    meta = bundle.manifest["provenance"]["meta"]
    assert meta["tasks"] == "maze-train-40" and meta["metrics"]["iterations"] >= 100
    assert meta["git"]["commit"] and spelled_now(meta["command"])[:2] == ["meta", "export"]
    states = np.array([[10.0, 10.0, 0.0, 0.0]], np.float32)
    context = np.zeros((1, 5, bundle.manifest["dims"]["transition"]), np.float32)
    e_mean, e_std = bundle.encode_task(context)
    mean, log_std = bundle.high_level(states, e_mean)
    assert mean.shape == (1, 10) and np.all(np.isfinite(log_std)) and np.all(e_std > 0)


def test_shipped_bundle_records_the_committed_target_results():
    """models/maze's manifest carries SiMPL's numbers from the committed results run, which adapted this very
    meta-training; re-running the recorded command re-measures them."""
    from pathlib import Path

    from simpl_core.experiments.results import read_csv
    from simpl_core.runtime.bundle import PolicyBundle

    bundle = PolicyBundle.load(resource("models", "maze"))
    recorded = bundle.manifest["provenance"]["meta"]["target_learning"]
    results = Path(__file__).parents[2] / "docs" / "results" / "maze_sample_efficiency"
    info = json.loads((results / "run.json").read_text())
    assert info["meta_weights_sha256"] == bundle.manifest["files"]["simpl_model.pt"] and "simpl" not in info["runs"]
    rows = [r for r in read_csv(results / "returns.csv") if r["method"] == "simpl"]
    assert len(rows) == info["seeds"] * 10 * info["episodes"]
    assert recorded["success_at_checkpoints"] == checkpoint_table(rows, "maze")["simpl"]
    assert recorded["command"] == info["command"] and spelled_now(info["command"])[:2] == ["eval", "sample-efficiency"]


def test_meta_run_is_refused_by_a_bundle_with_other_skills(meta_bundle, tmp_path):
    import shutil

    from simpl_core.runtime.bundle import BundleError

    bundle_dir, meta = meta_bundle
    other_run = tmp_path / "meta"
    shutil.copytree(meta, other_run)
    info = json.loads((other_run / "run.json").read_text())
    info["skills_sha256"] = "0" * 64
    (other_run / "run.json").write_text(json.dumps(info))
    with pytest.raises(BundleError, match="other skills"):
        from simpl_core.export.meta import export_meta

        export_meta(other_run, bundle_dir, "simpl meta export")


def test_meta_training_continues_from_a_bundles_weights(meta_bundle, tmp_path):
    """init_from: a new run starts from the bundle's simpl_model.pt (encoder, policy, critics, coefficients), with
    empty buffers; the weights must come from meta-training over the same skills."""
    from simpl_core.export.meta import load_bundle_meta
    from simpl_core.meta.simpl import init_from_bundle, load_meta_run
    from simpl_core.runtime.bundle import BundleError

    bundle_dir, meta = meta_bundle

    reseeded = tmp_path / "reseeded.yaml"  # networks initialised otherwise than the bundle's run
    reseeded.write_text(f"base: {SMOKE}\nseed: 7\n")

    def one_iteration(out, *extra) -> Simpl:
        argv = ["meta", "train", "--config", str(reseeded), "--bundle", str(bundle_dir), "--iterations", "1"]
        assert main([*argv, "--tasks", str(meta.parent / "tasks.yaml"), "--out", str(out), *extra]) == 0
        return load_meta_run(out, bundle_dir)[0]

    continued = one_iteration(tmp_path / "continued", "--init-from", str(bundle_dir))
    fresh = one_iteration(tmp_path / "fresh")
    run = json.loads((tmp_path / "continued" / "run.json").read_text())
    assert run["config"]["init_from"] == str(bundle_dir)  # how the weights were reached, kept with the run
    started = load_bundle_meta(bundle_dir)[0].state_dict()
    for name in ("encoder.seed", "critics.0.net.0.weight"):  # one iteration moves them far less than a fresh start
        assert (continued.state_dict()[name] - started[name]).abs().mean() < (
            fresh.state_dict()[name] - started[name]
        ).abs().mean() / 5, name
    with pytest.raises(BundleError, match="other skills"):
        init_from_bundle(continued, bundle_dir, "0" * 64)
