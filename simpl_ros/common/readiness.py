"""When the robot side (the sim, or the hardware bridge) may start an episode: once the policy hears it.

Each process discovers the others on its own, so only the node that publishes the steps can tell that its steps
will be heard: the `wait_for` nodes subscribe to them, someone publishes commands, and has for HOLD_S (time for the
policy's own topics, e.g. the skill topic, to be discovered too). Steps sent earlier would be lost.
"""

from __future__ import annotations

import json
import time

HOLD_S = 0.5


class PolicyListening:
    """`wait_for` names the nodes that must subscribe to the steps (by name: a `ros2 topic echo` or a recorder on the
    step topic does not count as the policy)."""

    def __init__(self, node, step_pub, command_sub, wait_for: str):
        self.node, self.step_pub, self.command_sub = node, step_pub, command_sub
        self.wait_for = [name.strip() for name in wait_for.split(",") if name.strip()]
        self.since: float | None = None  # when the policy was first seen, until it is lost again

    def reason(self) -> str | None:
        """None when an episode may start now, else why not (for a ~/reset answer or the log). Call it often
        between episodes: the hold runs from the first call that sees the policy."""
        if not self.wait_for:
            return None
        listening = {info.node_name for info in self.node.get_subscriptions_info_by_topic(self.step_pub.topic_name)}
        missing = [name for name in self.wait_for if name not in listening]
        publishers = self.command_sub.get_publisher_count()
        if missing or not publishers:
            self.since = None
            return (
                f"waiting for the policy: {', '.join(missing) or 'every node'} "
                f"{'not yet hearing' if missing else 'hears'} the steps, {publishers} command publishers"
            )
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
