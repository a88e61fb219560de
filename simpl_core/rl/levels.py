"""The level a high-level learner acts at.

- skills: a latent skill z every K env steps, turned into actions by the frozen skill decoder, regularised toward
  the learned skill prior p(z | s) (SiMPL, SPiRL);
- primitive: the action itself at every step, regularised toward a fixed N(0, I) (flat SAC, PEARL: methods that
  use no offline data).
Both share the transition layout [s, z, r, done, s'] (z = the action on the primitive level), the rollout and the
learners; only these four things differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from simpl_core.export.skills import load_bundle_skills
from simpl_core.rl.buffers import TransitionLayout
from simpl_core.rl.nets import StandardNormalPrior
from simpl_core.rl.rollout import SkillDecoder
from simpl_core.runtime.bundle import PolicyBundle

LEVELS = ("skills", "primitive")


@dataclass(frozen=True)
class ActionLevel:
    name: str
    layout: TransitionLayout
    decode: SkillDecoder
    """(states, z) -> clipped env actions"""
    horizon: int
    """env steps per high-level decision"""
    prior: nn.Module
    """p(z | s) -> (mean, log std), frozen"""
    bundle: PolicyBundle
    """the skills' bundle: domain, dims and action bounds"""


def action_level(name: str, bundle_dir: str | Path) -> ActionLevel:
    if name not in LEVELS:
        raise ValueError(f"unknown action level {name!r}; available: {', '.join(LEVELS)}")
    _, skill_prior, bundle = load_bundle_skills(bundle_dir)
    if name == "skills":
        return ActionLevel(
            name,
            TransitionLayout(bundle.state_dim, bundle.latent_dim),
            lambda s, z: bundle.clip_action(bundle.decode(s, z)),
            bundle.skill_horizon,
            skill_prior,
            bundle,
        )
    return ActionLevel(
        name,
        TransitionLayout(bundle.state_dim, bundle.action_dim),
        lambda s, a: bundle.clip_action(a),
        1,
        StandardNormalPrior(bundle.action_dim),
        bundle,
    )
