"""High-level RL over skills: networks, buffers of high-level transitions, batched hierarchical rollouts."""
