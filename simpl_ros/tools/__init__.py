"""Bringing graphs up without launch_ros (launcher), latency benchmarks and their echo node."""
