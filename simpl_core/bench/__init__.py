"""Benchmarks (`simpl bench ...`): measured on this machine, never run in tests."""
