"""Low level, at control rate: for every new observation, a = decoder(s, z) with the current skill, clamped to the
action bounds, published as a ros2_control forward command.

Watchdog: zero command (and a throttled warning) when the observation stream goes quiet for more than
`observation_timeout_periods` control periods, when the skill does not cover the current step (chosen every skill
horizon) and is `skill_grace_steps` steps late, when an episode has ended, or when a message is malformed (wrong
fields or length, NaN). An observation whose skill is still on its way (less than `skill_grace_steps` late) gets no
command until the skill comes: then it is answered, so each observation gets one command. It never crashes on bad
input.

With `use_sim_time:=true` (the sim in lock-step publishes /clock) the watchdog counts simulated control periods, and
an ended episode gets no zero: the stopped sim needs none, and one arriving after the next episode's first
observation would be taken as that step's answer.
"""

from __future__ import annotations

import sys

import numpy as np
from rclpy.node import Node
from std_msgs.msg import Float64MultiArray

from simpl_ros.common.messages import (
    SKILL_TOPIC,
    STEP_TOPIC,
    MessageError,
    command_message,
    read_step,
    skill_layout,
    step_layout,
)
from simpl_ros.common.node_main import WarningsByKind, open_bundle, parameter, run


class SkillDecoderNode(Node):
    def __init__(self):
        super().__init__("skill_decoder")
        self.bundle = open_bundle(parameter(self, "bundle", "models/maze"), "skill_decoder")
        self.lockstep = self.get_parameter("use_sim_time").value  # the sim's time, which moves only as it steps
        rtf = parameter(self, "rtf", 1.0)  # wall-clock speed-up, unused on sim time (periods are simulated seconds)
        controller = parameter(self, "controller", "ball_controller")
        self.period = 1.0 / (self.bundle.manifest["control_rate_hz"] * (1.0 if self.lockstep else rtf))
        self.timeout = parameter(self, "observation_timeout_periods", 2.0) * self.period
        self.skill_grace = parameter(self, "skill_grace_steps", 2)
        self.step_layout = step_layout(self.bundle.state_dim, self.bundle.action_dim)
        self.skill_layout = skill_layout(self.bundle.latent_dim)
        self.zero = np.zeros(self.bundle.action_dim)
        self.skill: tuple[int, int, np.ndarray] | None = None  # episode, step chosen at, z
        self.last_observation = None  # node-clock time (s) of the last good observation
        self.waiting = None  # the observation still to be answered, while its skill is on its way
        self.warnings = WarningsByKind(self.get_logger())
        self.command_pub = self.create_publisher(Float64MultiArray, f"{controller}/commands", 10)
        self.create_subscription(Float64MultiArray, STEP_TOPIC, self._on_step, 10)
        self.create_subscription(Float64MultiArray, SKILL_TOPIC, self._on_skill, 10)
        self.create_timer(self.period, self._watchdog)
        self.get_logger().info(
            f"decoding {self.bundle.directory} at {1 / self.period:g} Hz ({'sim' if self.lockstep else 'wall'} time), "
            f"commands on /{controller}/commands, observation timeout {self.timeout * 1e3:.1f} ms"
        )

    def _on_skill(self, msg: Float64MultiArray) -> None:
        try:
            fields = self.skill_layout.unpack(msg)
        except MessageError as err:
            self.get_logger().warning(f"bad skill message: {err}", throttle_duration_sec=2.0)
            return
        self.skill = int(fields["episode"][0]), int(fields["step"][0]), fields["z"].astype(np.float32)
        if self.waiting is not None and self._skill_problem(self.waiting) is None:  # the skill for the step waiting
            self._command(self.waiting)

    def _on_step(self, msg: Float64MultiArray) -> None:
        try:
            step = read_step(self.step_layout, msg)
        except MessageError as err:
            self._stop(f"bad observation: {err}")
            return
        self.last_observation = self._now()
        self.waiting = None
        if step.ended:
            if not self.lockstep:
                self._stop(None)
            self.last_observation = None  # between episodes a quiet stream is expected, not a fault
            return
        reason = self._skill_problem(step)
        if reason is None:
            self._command(step)
        else:  # a new skill is chosen on this very step and may still be on its way: answer when it comes
            self.waiting = step
            if step.step % self.bundle.skill_horizon >= self.skill_grace:
                self._stop(reason)

    def _command(self, step) -> None:
        self.command_pub.publish(command_message(self.bundle, step.observation, self.skill[2]))
        self.waiting = None

    def _skill_problem(self, step) -> str | None:
        if self.skill is None:
            return "no skill received yet"
        skill_episode, skill_step, _ = self.skill
        if skill_episode != step.episode or not 0 <= step.step - skill_step < self.bundle.skill_horizon:
            return (
                f"no fresh skill (last chosen at episode {skill_episode} step {skill_step}; now episode "
                f"{step.episode} step {step.step})"
            )
        return None

    def _watchdog(self) -> None:
        if self.last_observation is not None and self._now() - self.last_observation > self.timeout:
            self._stop(f"no observation for more than {self.timeout * 1e3:.1f} ms")
            self.last_observation = None  # report once per outage

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _stop(self, reason: str | None) -> None:
        """Command zero (every time: a zero is cheap and a lost one would leave the robot moving) and say why, at
        most every 2 s per kind of reason (its first three words), so one kind does not hide another."""
        self.command_pub.publish(Float64MultiArray(data=self.zero.tolist()))
        if reason:
            self.warnings.warn(f"commanding zero: {reason}", about=reason)


def main(args=None) -> None:
    sys.exit(run(SkillDecoderNode, args))


if __name__ == "__main__":
    main()
