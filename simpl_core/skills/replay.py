"""`simpl skills eval-skills`: can the skills express what the demonstrations do? (kitchen)

Replay demonstration episodes in the sim closed-loop through the skill autoencoder: every K steps, encode the
demonstration's next K (state, action) pairs into z = the posterior mean of q(z | window), and let the decoder act
on that z from the state the sim is actually in. As a control, the same episodes' executed actions are also replayed
open-loop. Both start from the state the demonstration starts in (its first observation, noise included). A subtask
the demonstrations and their open-loop replay complete but the skill replay does not is one the skills cannot express,
whatever a high-level policy picks; one the skill replay completes but the prior rarely reaches
(`simpl skills eval-prior`) is a matter of choosing the right skills.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from simpl_core.data.inspect import subtask_order
from simpl_core.data.kitchen_demos import EXECUTED_ACTIONS
from simpl_core.data.minari_io import Episode
from simpl_core.envs import make_vector_env
from simpl_core.envs.kitchen.env import ROBOT_POSITIONS
from simpl_core.envs.kitchen.task import SUBTASKS
from simpl_core.skills.model import SkillModel

REPLAYS = ("demonstration", "open-loop actions", "skills, closed loop")
ARM_POSITIONS = slice(0, 7)  # the 7 arm joints' positions in the observation
GAP_STEPS = (10, 50, 100, 200)  # steps at which the replays' distance from the demonstration is reported


@torch.no_grad()
def encode_window(model: SkillModel, episode: Episode, t: int) -> np.ndarray:
    """z = posterior mean of the demonstration's K steps from t (fewer at its end)."""
    k = model.cfg.horizon
    states = torch.from_numpy(episode.observations[t : t + k][None])
    actions = torch.from_numpy(episode.actions[t : t + k][None])
    return model.encoder(states[:, : actions.shape[1]], actions)[0][0].numpy()


def executed_actions(episode: Episode) -> np.ndarray:
    """What the demonstration executed: its actions, unless they are corrective labels (kitchen data recipe v1)."""
    return episode.infos.get(EXECUTED_ACTIONS, episode.actions)


@torch.no_grad()
def replay_kitchen(
    model: SkillModel, episodes: list[Episode], seed: int = 0, progress: bool = True, open_loop: bool = True
) -> np.ndarray:
    """Observations (2 x episodes, steps + 1, 59) of the open-loop replays (first half) and the skill replays
    (second half), all stepped together from the state each demonstration starts in; an episode past its
    demonstration's end holds still. Without `open_loop`, only the skill replays (episodes, steps + 1, 59)."""
    n, k = len(episodes), model.cfg.horizon
    replays = 2 if open_loop else 1
    steps = max(len(e.actions) for e in episodes)
    env = make_vector_env("kitchen", replays * n, max_episode_steps=steps + 1)
    starts = np.stack([e.observations[0] for e in episodes] * replays)
    obs, _ = env.reset(seed=seed, options={"observations": starts})
    trajectory, z = [obs], np.zeros((n, model.cfg.latent_dim), np.float32)
    skills = slice((replays - 1) * n, replays * n)
    for t in tqdm(range(steps), desc="skill replay", unit="step", disable=not progress):
        actions = np.zeros((replays * n, model.cfg.action_dim), np.float32)
        live = np.array([t < len(e.actions) for e in episodes])
        if t % k == 0:
            z = np.stack([encode_window(model, e, t) if live[i] else z[i] for i, e in enumerate(episodes)])
        decoded = model.decoder(torch.from_numpy(obs[skills]), torch.from_numpy(z)).numpy()
        for i, episode in enumerate(episodes):
            if live[i]:
                actions[skills.start + i] = np.clip(decoded[i], -1.0, 1.0)
                if open_loop:
                    actions[i] = executed_actions(episode)[t]
        obs, *_ = env.step(actions)
        trajectory.append(obs)
    env.close()
    return np.stack(trajectory, axis=1)


def skill_replay_subtasks(model: SkillModel, episodes: list[Episode], seed: int = 0) -> float:
    """Mean subtasks per episode the skills complete replaying `episodes` closed-loop (checkpoint selection)."""
    trajectories = replay_kitchen(model, episodes, seed, progress=False, open_loop=False)
    return float(np.mean([len(subtask_order(trajectories[i, : len(e.observations)])) for i, e in enumerate(episodes)]))


@torch.no_grad()
def window_replay_error(model: SkillModel, episodes: list[Episode], windows: int = 256, seed: int = 0) -> dict:
    """Per-window replay: the sim reset to a demonstration's state at a random window start, then K steps of the
    skill (z = posterior mean of the window), of the demonstration's executed actions (the floor) and of its stored
    labels. Returns the mean distance (rad, 7 arm joints) of each from the demonstration's arm after K steps. On
    corrective-label data the labels are the clean commands, not what moved the arm: their gap is how far a decoder
    that reproduced them exactly would be, so a skill gap near or below it is noise, not decoder error."""
    k, rng = model.cfg.horizon, np.random.default_rng(seed)
    long_enough = [e for e in episodes if e.length >= k]
    picked = [long_enough[i] for i in rng.integers(len(long_enough), size=windows)]
    starts = [int(rng.integers(e.length - k + 1)) for e in picked]
    env = make_vector_env("kitchen", 3 * windows, max_episode_steps=k + 1)
    obs, _ = env.reset(
        seed=seed, options={"observations": np.stack([e.observations[t] for e, t in zip(picked, starts)] * 3)}
    )
    states = torch.from_numpy(np.stack([e.observations[t : t + k] for e, t in zip(picked, starts)]))
    labels = torch.from_numpy(np.stack([e.actions[t : t + k] for e, t in zip(picked, starts)]))
    z = model.encoder(states, labels)[0]
    executed = np.stack([executed_actions(e)[t : t + k] for e, t in zip(picked, starts)])
    for step in range(k):
        decoded = model.decoder(torch.from_numpy(obs[windows : 2 * windows]), z).numpy()
        obs, *_ = env.step(np.concatenate([executed[:, step], np.clip(decoded, -1.0, 1.0), labels[:, step].numpy()]))
    env.close()
    target = np.stack([e.observations[t + k, ARM_POSITIONS] for e, t in zip(picked, starts)])
    gaps = np.linalg.norm(obs[:, ARM_POSITIONS] - np.tile(target, (3, 1)), axis=1).reshape(3, windows).mean(axis=1)
    return {
        "skill_window_gap_rad": round(float(gaps[1]), 4),
        "executed_window_gap_rad": round(float(gaps[0]), 4),
        "label_window_gap_rad": round(float(gaps[2]), 4),
    }


def arm_gap(episodes: list[Episode], trajectories: np.ndarray, step: int) -> float | None:
    """Mean distance (rad, 9 robot joints) between the replays and their demonstrations after `step` steps, over
    the demonstrations that last that long."""
    gaps = [
        np.linalg.norm(trajectories[i, step, ROBOT_POSITIONS] - e.observations[step, ROBOT_POSITIONS])
        for i, e in enumerate(episodes)
        if step < len(e.observations)
    ]
    return round(float(np.mean(gaps)), 3) if gaps else None


def replay_report(episodes: list[Episode], trajectories: np.ndarray) -> dict:
    """Per subtask: in how many episodes the demonstration, the open-loop replay and the skill replay complete it;
    the mean number of subtasks per episode of each; how far each replay's arm is from the demonstration's."""
    n = len(episodes)
    orders = {
        REPLAYS[0]: [subtask_order(e.observations) for e in episodes],
        REPLAYS[1]: [subtask_order(trajectories[i, : len(e.observations)]) for i, e in enumerate(episodes)],
        REPLAYS[2]: [subtask_order(trajectories[n + i, : len(e.observations)]) for i, e in enumerate(episodes)],
    }
    return {
        "episodes": n,
        "subtasks_per_episode": {name: float(np.mean([len(o) for o in done])) for name, done in orders.items()},
        "episodes_completing": {
            subtask: {name: sum(subtask in o for o in done) for name, done in orders.items()} for subtask in SUBTASKS
        },
        "arm_gap_rad": {
            name: {step: arm_gap(episodes, trajectories[part * n : (part + 1) * n], step) for step in GAP_STEPS}
            for part, name in enumerate(REPLAYS[1:])
        },
    }


def format_report(report: dict) -> str:
    lines = [f"| subtask | {' | '.join(REPLAYS)} |", "|---" * (1 + len(REPLAYS)) + "|"]
    lines += [
        f"| {subtask} | " + " | ".join(str(counts[name]) for name in REPLAYS) + " |"
        for subtask, counts in report["episodes_completing"].items()
    ]
    lines.append(
        "| subtasks per episode | "
        + " | ".join(f"{report['subtasks_per_episode'][name]:.2f}" for name in REPLAYS)
        + " |"
    )
    lines += [
        "",
        "distance of the arm from the demonstration's (rad, 9 joints), after N steps:",
        "| replay | " + " | ".join(str(step) for step in GAP_STEPS) + " |",
        "|---" * (1 + len(GAP_STEPS)) + "|",
    ]
    lines += [
        f"| {name} | " + " | ".join(str(gap) for gap in gaps.values()) + " |"
        for name, gaps in report["arm_gap_rad"].items()
    ]
    return f"episodes completing each subtask, of {report['episodes']}:\n" + "\n".join(lines)
