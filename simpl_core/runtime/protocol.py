"""Numbers and the e* recipe of the target-task protocol that the training side (simpl_core.meta) and the serving
graph (simpl_ros) share, in a module without torch so serving nodes can read them."""

import numpy as np

EXPLORATION_EPISODES = 20  # SiMPL: episodes conditioned on a fresh e ~ p(e) before e* is fixed from their transitions


def e_star_inputs(context: np.ndarray, set_size: int, sets: int, rng: np.random.Generator) -> np.ndarray:
    """The sets a target task's e* is encoded from, (sets, size, width). sets = 0: the whole context as one set (the
    paper's e*, the posterior mean of q(e | every exploration transition)). sets = K: K sets of `set_size`
    transitions drawn from it with replacement, as meta-training draws its contexts, so the encoder sees sets of the
    size it trained on; e* is then the mean of their posterior means."""
    if sets < 0:
        raise ValueError(f"e* sets must be 0 (the whole context) or more, not {sets}")
    if len(context) == 0:
        raise ValueError("no transitions to encode e* from")
    if sets == 0:
        return context[None]
    return context[rng.integers(0, len(context), size=(sets, set_size))]
