"""The one place that imports Gymnasium-Robotics' FrankaKitchen. Its package prints an unrelated notice about the
Adroit envs to stderr on import (farama_notifications); we hide that line, nothing else."""

import contextlib
import io

with contextlib.redirect_stderr(io.StringIO()):
    from gymnasium_robotics.envs.franka_kitchen.kitchen_env import (
        BONUS_THRESH,
        OBS_ELEMENT_GOALS,
        OBS_ELEMENT_INDICES,
        KitchenEnv,
    )

__all__ = ["BONUS_THRESH", "OBS_ELEMENT_GOALS", "OBS_ELEMENT_INDICES", "KitchenEnv"]
