"""Offline datasets: generation (planner, teleoperation), the Minari on-disk format, and skill-window sampling."""
