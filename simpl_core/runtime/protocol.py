"""Numbers of the target-task protocol that the training side (simpl_core.meta) and the serving graph (simpl_ros)
share, in a module without torch so serving nodes can read them."""

EXPLORATION_EPISODES = 20  # SiMPL: episodes conditioned on a fresh e ~ p(e) before e* is fixed from their transitions
