"""Teleoperation and recording demonstrations: Cartesian servo, scripted and keyboard operators, demo recorder."""
