"""High level, every skill horizon (K = 10 control steps): z ~ pi(z | s, e) from high_level_policy.onnx, sampled
while the task encoder explores and its mean once it exploits. Without a task embedding it samples the skill prior
p(z | s). The policy hot-swaps: set the `bundle` parameter to another bundle directory; it is loaded and verified
first, and a bad one is refused with the reason while the running policy keeps going. The `sample` parameter
(auto / always / never) overrides when to sample instead of taking the mean.
"""

from __future__ import annotations

import sys

import numpy as np
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from std_msgs.msg import Float64MultiArray

from simpl_core.runtime.bundle import BundleError, PolicyBundle
from simpl_ros.common.messages import (
    EMBEDDING_TOPIC,
    EXPLOIT,
    LATCHED,
    SKILL_TOPIC,
    STEP_TOPIC,
    STREAM_DEPTH,
    MessageError,
    embedding_layout,
    read_step_or_warn,
    skill_layout,
    step_layout,
)
from simpl_ros.common.node_main import StartupError, open_bundle, parameter, run

GRAPHS = ("high_level_policy", "skill_prior")
SAMPLING = ("auto", "always", "never")


class SkillSelectorNode(Node):
    def __init__(self):
        super().__init__("skill_selector")
        self.bundle = open_bundle(parameter(self, "bundle", "models/maze"), *GRAPHS)
        self.rng = np.random.default_rng(parameter(self, "seed", 0))
        # auto: sample while the encoder explores, the mean once it exploits; always: sample (on-robot fine-tuning
        # collects data with a stochastic policy, as SAC does); never: the mean
        self.sample = parameter(self, "sample", "auto")
        if self.sample not in SAMPLING:
            raise StartupError(f"sample must be one of {', '.join(SAMPLING)}, not {self.sample!r}")
        self.embedding: tuple[int, np.ndarray] | None = None  # mode, e
        self.next_choice = (0, 0)  # (episode, step) of the next skill choice
        self.validated: dict[str, PolicyBundle] = {}  # bundles the last parameter check opened, by path
        self.add_on_set_parameters_callback(self._check_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)
        self.skill_pub = self.create_publisher(Float64MultiArray, SKILL_TOPIC, STREAM_DEPTH)
        # deep: behind a backlog on a busy CPU, the step a skill is due at must still come (late beats lost)
        self.create_subscription(Float64MultiArray, STEP_TOPIC, self._on_step, STREAM_DEPTH)
        self.create_subscription(Float64MultiArray, EMBEDDING_TOPIC, self._on_embedding, LATCHED)
        self.get_logger().info(f"selecting skills every {self.bundle.skill_horizon} steps with {self.bundle.directory}")

    def _check_parameters(self, params) -> SetParametersResult:
        """Validate only (rclpy may still refuse the set after this callback): a new bundle is opened and checked
        here and kept for _apply_parameters, which runs once the values are set."""
        validated = {}
        for param in params:
            if param.name == "sample" and param.value not in SAMPLING:
                return SetParametersResult(successful=False, reason=f"sample must be one of {', '.join(SAMPLING)}")
            if param.name == "bundle":
                try:
                    bundle = open_bundle(str(param.value), *GRAPHS)
                except BundleError as err:
                    return SetParametersResult(successful=False, reason=str(err))
                if bundle.manifest["dims"] != self.bundle.manifest["dims"]:
                    return SetParametersResult(
                        successful=False,
                        reason=f"{param.value} has dims "
                        f"{bundle.manifest['dims']}, the running policy "
                        f"{self.bundle.manifest['dims']}",
                    )
                validated[str(param.value)] = bundle
        self.validated = validated
        return SetParametersResult(successful=True)

    def _apply_parameters(self, params) -> None:
        for param in params:
            if param.name == "sample":
                self.sample = param.value
            if param.name == "bundle":
                self.bundle = self.validated.pop(str(param.value))  # one reference swap: the next selection uses it
                self.get_logger().info(f"policy swapped to {self.bundle.directory}")

    def _on_embedding(self, msg: Float64MultiArray) -> None:
        try:
            fields = embedding_layout(self.bundle.manifest["dims"]["task"]).unpack(msg)
        except MessageError as err:
            self.get_logger().warning(f"bad task embedding: {err}", throttle_duration_sec=2.0)
            return
        self.embedding = int(fields["mode"][0]), fields["e"].astype(np.float32)

    def _on_step(self, msg: Float64MultiArray) -> None:
        bundle = self.bundle
        step = read_step_or_warn(self, step_layout(bundle.state_dim, bundle.action_dim), msg, "no skill chosen")
        if step is None or step.ended or (step.episode, step.step) < self.next_choice:
            return
        # every K steps; a step message lost under load moves the choice to the next step that comes
        self.next_choice = (step.episode, step.step - step.step % bundle.skill_horizon + bundle.skill_horizon)
        z = self.select(bundle, step.observation)
        self.skill_pub.publish(skill_layout(bundle.latent_dim).pack(episode=step.episode, step=step.step, z=z))

    def select(self, bundle: PolicyBundle, state: np.ndarray) -> np.ndarray:
        if self.embedding is None:
            mean, log_std = bundle.prior(state)
            exploiting = False
        else:
            mode, e = self.embedding
            mean, log_std = bundle.high_level(state, e)
            exploiting = mode == EXPLOIT
        if self.sample == "never" or (self.sample == "auto" and exploiting):
            return mean[0]
        return mean[0] + np.exp(log_std[0]) * self.rng.standard_normal(mean.shape[1]).astype(np.float32)


def main(args=None) -> None:
    sys.exit(run(SkillSelectorNode, args))


if __name__ == "__main__":
    main()
