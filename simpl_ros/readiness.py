"""When the robot side (the sim, or the hardware bridge) may start an episode: once the policy hears it.

Each process discovers the others on its own, so only the node that publishes the steps can tell that its steps
will be heard: `wait_for` nodes subscribe to them, someone publishes commands, and has for HOLD_S (time for the
policy's own topics, e.g. the skill topic, to be discovered too). Steps sent earlier would be lost.
"""

from __future__ import annotations

import json
import time

HOLD_S = 0.5


class PolicyListening:
    def __init__(self, step_pub, command_sub, wait_for: int):
        self.step_pub, self.command_sub, self.wait_for = step_pub, command_sub, wait_for
        self.since: float | None = None  # when the policy was first seen, until it is lost again

    def reason(self) -> str | None:
        """None when an episode may start now, else why not (for a ~/reset answer or the log). Call it often
        between episodes: the hold runs from the first call that sees the policy."""
        if not self.wait_for:
            return None
        listeners, publishers = self.step_pub.get_subscription_count(), self.command_sub.get_publisher_count()
        if listeners < self.wait_for or not publishers:
            self.since = None
            return (f"waiting for the policy: {listeners} of {self.wait_for} nodes hear the steps, "
                    f"{publishers} command publishers")
        self.since = self.since or time.monotonic()
        return None if time.monotonic() - self.since >= HOLD_S else "discovering the policy's topics"


def answer_reset(response, reason: str | None, start_episode, describe):
    """~/reset's std_srvs/Trigger answer, the same from the sim and the bridge: refused with the reason (the caller
    asks again), or the episode started and described ({"episode", "task"}) as JSON."""
    if reason is not None:
        response.success, response.message = False, f"{reason}; ask again"
        return response
    start_episode()
    response.success, response.message = True, json.dumps(describe())
    return response
