"""Locate the project's shared folders (config/, sim/, models/) in a source checkout or an installed tree.

A source checkout or `pip install -e .` finds them next to the package; `pip install .` and colcon put them under
`<prefix>/share/simpl_ros/`; `SIMPL_SHARE_DIR` overrides both.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE_NAME = "simpl_ros"


def _candidates() -> list[Path]:
    found = []
    if os.environ.get("SIMPL_SHARE_DIR"):
        found.append(Path(os.environ["SIMPL_SHARE_DIR"]))
    found.append(Path(__file__).resolve().parents[1])
    found.append(Path(sys.prefix) / "share" / PACKAGE_NAME)
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            found.append(Path(prefix) / "share" / PACKAGE_NAME)
    return found


def share_dir() -> Path:
    """The folder that holds config/ and sim/."""
    for candidate in _candidates():
        if (candidate / "config").is_dir() and (candidate / "sim").is_dir():
            return candidate
    searched = ", ".join(str(c) for c in _candidates())
    raise FileNotFoundError(
        f"cannot find the simpl_ros share folder (config/ and sim/); searched: {searched}. "
        "Set SIMPL_SHARE_DIR to the folder that holds them."
    )


def resource(*parts: str) -> Path:
    """Path of a shipped file, e.g. resource('config', 'tasks', 'maze.yaml'); raises if it is missing."""
    path = share_dir().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"shipped resource {'/'.join(parts)} is missing (looked in {path})")
    return path
