"""One home per hyper-parameter: the config dataclasses document every field, the shipped YAML files state only what
they change, and `simpl GROUP show-config` prints the effective values."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from simpl_core.cli import main
from simpl_core.meta.adapt import TargetConfig
from simpl_core.meta.config import SimplConfig
from simpl_core.paths import resource
from simpl_core.rl.constrained_sac import SacConfig
from simpl_core.runs import field_defaults, field_docs, read_config_keys
from simpl_core.skills.model import SkillModelConfig
from simpl_core.skills.train import SkillTrainConfig

CONFIG = resource("config")
META_CONFIGS = sorted(p for p in CONFIG.glob("**/*.yaml") if p.name.startswith(("simpl_", "pearl_", "mtrl_")))
SKILL_CONFIGS = sorted(
    p for p in CONFIG.glob("**/*.yaml") if p.name.startswith("skills_") or p.parent.name == "kitchen_skills"
)
TARGET_CONFIGS = sorted(CONFIG.glob("target_*.yaml"))


@pytest.mark.parametrize("cls", [SimplConfig, SkillTrainConfig, SkillModelConfig, TargetConfig, SacConfig])
def test_every_setting_has_a_doc(cls):
    docs = field_docs(cls)
    assert [f.name for f in dataclasses.fields(cls) if not docs.get(f.name)] == []


def inherited_values(path: Path, cls, sections: dict) -> dict:
    """What each key of `path` would be without the file: its base's value, else the dataclass default."""
    own = yaml.safe_load(path.read_text()) or {}
    values = read_config_keys(path.parent / own["base"]) if "base" in own else field_defaults(cls)
    for key, section_cls in sections.items():
        values[key] = {**field_defaults(section_cls), **(values.get(key) or {})}
    return values


@pytest.mark.parametrize(
    "path, cls, sections",
    [(p, SimplConfig, {}) for p in META_CONFIGS]
    + [(p, SkillTrainConfig, {"model": SkillModelConfig}) for p in SKILL_CONFIGS],
    ids=lambda value: value.name if isinstance(value, Path) else "",
)
def test_a_yaml_config_states_only_what_it_changes(path, cls, sections):
    own = yaml.safe_load(path.read_text()) or {}
    before = inherited_values(path, cls, sections)
    restated = [
        key
        for key, value in own.items()
        if key != "base" and not isinstance(value, dict) and before.get(key, object()) == value
    ]
    restated += [
        f"{key}.{inner}"
        for key in sections
        for inner, value in (own.get(key) or {}).items()
        if before[key].get(inner, object()) == value
    ]
    assert restated == []


def test_the_maze_cpu_configuration_is_the_dataclass_defaults():
    assert SimplConfig.from_yaml(resource("config", "simpl_maze_cpu.yaml")) == SimplConfig()
    assert TargetConfig.for_domain("maze") == TargetConfig()


def test_target_learning_values_come_from_the_domains_config():
    kitchen = TargetConfig.for_domain("kitchen", episodes=7)
    assert (kitchen.horizon, kitchen.scratch_layers, kitchen.episodes) == (280, 5, 7)
    assert kitchen.spirl_sac == SacConfig(init_alpha=1.0, target_kl=5.0, kl_clip=10.0, alpha_lr=3e-3)
    with pytest.raises(ValueError, match="no target-learning values for domain 'mars'"):
        TargetConfig.for_domain("mars")


@pytest.mark.parametrize(
    "group, path, expected",
    [
        ("skills", "skills_kitchen_v1.yaml", "| normalize | True | False | standardise inputs"),
        ("meta", "simpl_kitchen_cpu.yaml", "| task_dim | 6 | 5 | dim(e)"),
        ("eval", "target_kitchen.yaml", "| horizon | 280 | 2000 | env steps per episode |"),
    ],
)
def test_show_config_prints_the_effective_values_with_their_docs(capsys, group, path, expected):
    assert main([group, "show-config", str(resource("config", path))]) == 0
    assert expected in capsys.readouterr().out


def test_a_config_with_an_unknown_key_is_refused(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"base: {resource('config', 'target_kitchen.yaml')}\nhorizn: 100\n")
    assert main(["eval", "show-config", str(bad)]) == 2
    assert "unknown keys ['horizn']" in capsys.readouterr().err
