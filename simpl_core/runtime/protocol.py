"""Numbers and the e* recipe of the target-task protocol that the training side (simpl_core.meta) and the serving
graph (simpl_ros) share, in a module without torch so serving nodes can read them."""

import numpy as np

EXPLORATION_EPISODES = 20  # SiMPL: episodes conditioned on a fresh e ~ p(e) before e* is fixed from their transitions


def check_e_star_sets(sets: int) -> int:
    """`sets` if it is a number of sets e* can be encoded from (0: the whole context), else ValueError."""
    if sets < 0:
        raise ValueError(f"e* sets must be 0 (the whole context) or more, not {sets}")
    return sets


def e_star_inputs(context: np.ndarray, set_size: int, sets: int, rng: np.random.Generator) -> np.ndarray:
    """The sets a target task's e* is encoded from, (sets, size, width). sets = 0: the whole context as one set (the
    paper's e*, the posterior mean of q(e | every exploration transition)). sets = K: K sets of `set_size`
    transitions drawn from it with replacement, as meta-training draws its contexts, so the encoder sees sets of the
    size it trained on; e* is then the mean of their posterior means."""
    check_e_star_sets(sets)
    if len(context) == 0:
        raise ValueError("no transitions to encode e* from")
    if sets == 0:
        return context[None]
    return context[rng.integers(0, len(context), size=(sets, set_size))]


def encode_e_star(encode, context: np.ndarray, set_size: int, sets: int, rng: np.random.Generator):
    """e* and the posterior std of a context: `encode` ((sets, size, width) -> numpy mean and std per set) over
    `e_star_inputs`, averaged over the sets."""
    mean, std = encode(e_star_inputs(context, set_size, sets, rng))
    return mean.mean(0), std.mean(0)
