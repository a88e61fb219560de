"""On-robot adaptation: SiMPL's target-task protocol driven on the live graph.

1. explore: `exploration_episodes` episodes (default 20), each started through the robot's ~/reset service (the sim's,
   or hw_bridge's on an arm: parameter `robot`; a refused reset is asked again until accepted), with the
   task encoder sampling e ~ p(e) per episode; the encoder then publishes e* (the posterior mean). Without e* within
   `e_star_timeout_s` (the encoder cannot encode episodes that hold no transitions) the node stops, saying why.
2. fine-tune: `finetune_episodes` episodes with the selector sampling from pi(z | s, e*); after each, a background
   thread runs the gradient steps it pays for (simpl_core, torch), exports the policy, verifies it and the selector
   swaps to it (its `bundle` parameter) without the control loop stopping.
3. evaluate: `eval_episodes` episodes with the mean skill of the final policy.
Every episode's high-level transitions go to `out_dir` as the episode ends (explore/, finetune/, evaluate/ and a line
in episodes.jsonl), so Ctrl-C or a crash loses nothing: a restart with the same out_dir resumes (the encoder reloads
the exploration episodes; the fine-tuner replays its episodes). The result, success and return before (exploration
episodes) and after (evaluation episodes), goes to results.json and the log.
"""

from __future__ import annotations

import json
import queue
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import Trigger

from simpl_core.rl.buffers import TransitionLayout
from simpl_core.runtime.bundle import PolicyBundle
from simpl_core.runtime.protocol import EXPLORATION_EPISODES
from simpl_ros.common.messages import (
    EMBEDDING_TOPIC,
    EPISODE_TOPIC,
    EXPLOIT,
    LATCHED,
    RECORDS,
    TRANSITIONS_TOPIC,
    MessageError,
    embedding_layout,
    read_rows,
)
from simpl_ros.common.node_main import bundle_path, parameter, run

PHASES = ("explore", "finetune", "evaluate")
ANSWER_TIMEOUT_S = 5.0  # a service answer later than this is taken as lost


class EpisodeLog:
    """out_dir/<phase>/NNNN.npy (transitions) + out_dir/episodes.jsonl (one summary per line), appended as
    episodes end."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        for phase in PHASES:
            (out_dir / phase).mkdir(parents=True, exist_ok=True)
        self.path = out_dir / "episodes.jsonl"
        started = out_dir / "started_at"  # the first start of this adaptation, kept across resumes
        if not started.exists():
            started.write_text(str(time.time()))
        self.started = float(started.read_text())
        self.entries = [json.loads(line) for line in self.path.read_text().splitlines()] if self.path.exists() else []

    def count(self, phase: str) -> int:
        return sum(entry["phase"] == phase for entry in self.entries)

    def rows(self, phase: str) -> list[np.ndarray]:
        return [np.load(self.out_dir / entry["rows"]) for entry in self.entries if entry["phase"] == phase]

    def mean(self, phase: str, key: str) -> float | None:
        """The mean of one summary value (success, return) over a phase's episodes."""
        values = [entry[key] for entry in self.entries if entry["phase"] == phase]
        return float(np.mean(values)) if values else None

    def add(self, phase: str, summary: dict, rows: np.ndarray) -> dict:
        name = f"{phase}/{self.count(phase):04d}.npy"
        np.save(self.out_dir / name, rows)
        kept = {key: value for key, value in summary.items() if key not in ("latency_ms", "received")}
        entry = {"phase": phase, **kept, "rows": name, "transitions": len(rows), "time": time.time()}
        with self.path.open("a") as f:
            f.write(json.dumps(entry) + "\n")
        self.entries.append(entry)
        return entry


class AdaptationNode(Node):
    def __init__(self):
        super().__init__("adaptation")
        self.bundle_dir = bundle_path(parameter(self, "bundle", "models/maze"))
        manifest = PolicyBundle.read_manifest(self.bundle_dir)
        dims, self.domain = manifest["dims"], manifest["domain"]
        self.task_dim, self.width = dims["task"], TransitionLayout(dims["state"], dims["latent"]).width
        self.targets = {
            "explore": parameter(self, "exploration_episodes", EXPLORATION_EPISODES),
            "finetune": parameter(self, "finetune_episodes", 20),
            "evaluate": parameter(self, "eval_episodes", 10),
        }
        self.seed = parameter(self, "seed", 0)
        self.sac_overrides = {
            "batch_size": parameter(self, "batch_size", 256),
            "min_buffer": parameter(self, "min_buffer", 256),
            "updates_per_transition": parameter(self, "updates_per_transition", 1.0),
        }
        self.log = EpisodeLog(Path(parameter(self, "out_dir", "runs/adapt_ros")))
        # torch threads of the learner (torch's default is one per core): one leaves the other cores to the nodes
        # of the control loop, which must answer every step
        self.learner_threads = parameter(self, "learner_threads", 1)
        # how long e* may take after the exploration episodes are in (the encoder cannot encode an empty context)
        self.e_star_timeout = parameter(self, "e_star_timeout_s", 60.0)
        self.waiting_since: float | None = None  # when the protocol began waiting for e*
        # start each fine-tuning episode only with the policy learned from all before it (the offline protocol):
        # what a lock-step sim allows, since its robot waits; a real arm's episodes cannot wait for the learner
        self.wait_for_learner = parameter(self, "wait_for_learner", False)

        # the node playing the robot: the sim, or hw_bridge on an arm; its ~/reset starts an episode
        self.robot = parameter(self, "robot", "sim")
        self.reset_client = self.create_client(Trigger, f"{self.robot}/reset")
        self.robot_params = AsyncParameterClient(self, self.robot)
        self.retry_at = 0.0  # a refused reset is asked again from then on
        self.selector_params = AsyncParameterClient(self, "skill_selector")
        self.summaries: dict[int, dict] = {}
        self.rows: dict[int, np.ndarray] = {}
        self.e_star: np.ndarray | None = None
        self.create_subscription(String, EPISODE_TOPIC, self._on_summary, RECORDS)
        self.create_subscription(Float64MultiArray, TRANSITIONS_TOPIC, self._on_rows, RECORDS)
        self.create_subscription(Float64MultiArray, EMBEDDING_TOPIC, self._on_embedding, LATCHED)

        self.learner = None  # RobotFineTuner, made once e* is known
        self.to_learn: queue.Queue = queue.Queue()
        self.swaps: queue.Queue = queue.Queue()  # exported bundle dirs for the selector
        self.learned = 0  # fine-tuning episodes learned from and exported
        self.queued = 0  # ... handed to the learner
        self.learner_failed: str | None = None  # why the learner thread stopped, if it did
        self.pending = None  # a future the state machine waits on
        self.asked: tuple | None = None  # (call, when) of that future, to ask again if no answer comes
        self.state, self.episode = "connect", None
        self.create_timer(0.05, self._step)
        done = {phase: self.log.count(phase) for phase in PHASES}
        self.get_logger().info(
            f"adapting {self.bundle_dir} into {self.log.out_dir}: targets {self.targets}, already done {done}"
        )

    # --- inputs ------------------------------------------------------------------------------------------------
    def _on_summary(self, msg: String) -> None:
        summary = json.loads(msg.data)
        self.summaries[summary["episode"]] = {**summary, "received": time.monotonic()}

    def _on_rows(self, msg: Float64MultiArray) -> None:
        try:
            episode, rows = read_rows(msg, self.width)
        except MessageError as err:
            self.get_logger().warning(f"bad transitions message: {err}")
            return
        self.rows[episode] = rows

    def _on_embedding(self, msg: Float64MultiArray) -> None:
        fields = embedding_layout(self.task_dim).unpack(msg)
        if int(fields["mode"][0]) == EXPLOIT:
            self.e_star = fields["e"].astype(np.float32)

    # --- the protocol, one small step per timer tick -----------------------------------------------------------
    def _phase(self) -> str | None:
        return next((p for p in PHASES if self.log.count(p) < self.targets[p]), None)

    def _step(self) -> None:
        if self.learner_failed is not None:  # the evaluation would wait for its policy forever
            self._stop(f"fine-tuning failed: {self.learner_failed}")
        if self.pending is not None and not self.pending.done():
            call, when = self.asked
            if time.monotonic() - when > ANSWER_TIMEOUT_S:  # a request or its answer was lost on the way
                self.get_logger().warning(f"no answer in {ANSWER_TIMEOUT_S:g} s; asking again")
                self._ask(call)
            return
        getattr(self, f"_{self.state}")()

    def _ask(self, call) -> None:
        """Send a service request (call() returns its future); the state machine waits for the answer."""
        self.pending, self.asked = call(), (call, time.monotonic())

    def _connect(self) -> None:
        """Start once the robot's services and the selector's parameters answer (the robot refuses to reset until the
        policy's nodes hear its steps: see _started)."""
        if (
            self.reset_client.service_is_ready()
            and self.robot_params.services_are_ready()
            and self.selector_params.services_are_ready()
        ):
            self._ask(lambda: self.robot_params.set_parameters([Parameter("auto_reset", value=False)]))
            self.state = "next"

    def _next(self) -> None:
        phase = self._phase()
        if phase is None:
            self._finish()
        elif phase != "explore" and self.e_star is None:
            self._wait_for_e_star()  # the encoder publishes e* once the exploration episodes are in
        elif (phase == "evaluate" or self.wait_for_learner) and (self.learned < self.queued or not self.swaps.empty()):
            self._swap()  # evaluate the final policy only; in lock-step, fine-tune as the offline protocol does too
        else:
            self._start_learner()
            self._swap()
            sample = {"explore": "auto", "finetune": "always", "evaluate": "never"}[phase]
            self._ask(lambda: self.selector_params.set_parameters([Parameter("sample", value=sample)]))
            self.state = "reset"

    def _wait_for_e_star(self) -> None:
        self.waiting_since = self.waiting_since or time.monotonic()
        if time.monotonic() - self.waiting_since > self.e_star_timeout:
            transitions = sum(len(rows) for rows in self.log.rows("explore"))
            self._stop(
                f"no e* from the task encoder {self.e_star_timeout:g} s after the exploration episodes "
                f"({transitions} transitions in {self.log.count('explore')} episodes; "
                "the encoder's log says why)"
            )

    def _stop(self, reason: str) -> None:
        self.get_logger().error(f"{reason}; the episodes so far are in {self.log.out_dir} (a restart resumes)")
        raise SystemExit(1)

    def _reset(self) -> None:
        if time.monotonic() < self.retry_at:
            return
        self._ask(lambda: self.reset_client.call_async(Trigger.Request()))
        self.state = "started"

    def _started(self) -> None:
        answer = self.pending.result()
        self.pending = None
        if not answer.success:  # not yet: the policy's nodes must hear the robot; an arm may be on its way home
            self.get_logger().info(f"{self.robot} not ready: {answer.message}", throttle_duration_sec=5.0)
            self.state, self.retry_at = "reset", time.monotonic() + 0.25
            return
        self.episode, self.state = json.loads(answer.message)["episode"], "running"

    def _running(self) -> None:
        if self.episode in self.summaries and self.episode not in self.rows:
            waited = time.monotonic() - self.summaries[self.episode]["received"]
            if waited > ANSWER_TIMEOUT_S:  # the encoder lost the episode: keep its summary, with no transitions
                self.get_logger().warning(f"no transitions for episode {self.episode} after {waited:.0f} s")
                self.rows[self.episode] = np.zeros((0, self.width), np.float32)
        if self.episode not in self.summaries or self.episode not in self.rows:
            self._swap()
            return
        phase = self._phase()
        summary, rows = self.summaries.pop(self.episode), self.rows.pop(self.episode)
        entry = self.log.add(phase, summary, rows)
        if phase == "finetune":
            self._learn_from(rows)
        self.get_logger().info(
            f"{phase} episode {self.log.count(phase)}/{self.targets[phase]}: "
            f"success {entry['success']}, {entry['transitions']} transitions"
        )
        self.state = "next"

    # --- fine-tuning in the background -------------------------------------------------------------------------
    def _start_learner(self) -> None:
        if self.learner is not None or self.e_star is None or self.targets["finetune"] == 0:
            return
        import torch  # torch only on this path

        from simpl_core.meta.adapt import RobotFineTuner, TargetConfig

        torch.set_num_threads(self.learner_threads)
        cfg = TargetConfig.for_domain(self.domain)
        for key, value in self.sac_overrides.items():
            setattr(cfg.simpl_sac, key, value)
        self.learner = RobotFineTuner(self.bundle_dir, self.e_star, cfg, self.seed)
        for rows in self.log.rows("finetune"):  # resume: learn again from the episodes on disk
            self._learn_from(rows)
        threading.Thread(target=self._learn_forever, daemon=True).start()

    def _learn_from(self, rows: np.ndarray) -> None:
        if len(rows):
            self.to_learn.put(rows)
            self.queued += 1

    def _learn_forever(self) -> None:
        try:
            self._learn_and_export()
        except Exception as err:  # noqa: BLE001 -- the control loop's thread reports it and stops the node
            self.learner_failed = f"{type(err).__name__}: {err}"

    def _learn_and_export(self) -> None:
        exported = 0
        while True:
            self.learner.learn(self.to_learn.get())
            exported += 1
            if self.to_learn.empty():  # export the newest policy only
                out = self.learner.export(
                    self.log.out_dir / "policies" / f"finetuned_{exported:03d}",
                    {
                        "finetune_episodes": exported,
                        "e_star": self.e_star.tolist(),
                        "exploration_episodes": self.log.count("explore"),
                        "alpha": self.learner.sac.alpha,
                    },
                )
                self.swaps.put((out, exported))
                for old in sorted(out.parent.glob("finetuned_*"))[:-3]:  # the selector may still read the last two
                    shutil.rmtree(old, ignore_errors=True)

    def _swap(self) -> None:
        """Hand the newest exported policy to the selector (the control loop keeps running meanwhile)."""
        if self.swaps.empty():
            return
        out, exported = self.swaps.get()
        while not self.swaps.empty():
            out, exported = self.swaps.get()
        self.selector_params.set_parameters([Parameter("bundle", value=str(out))])
        self.learned = exported
        self.get_logger().info(f"selector now runs the policy fine-tuned on {exported} episodes")

    def _finish(self) -> None:
        spent = sum(self.log.count(p) for p in ("explore", "finetune"))
        results = {
            f"{key}_{when}": self.log.mean(phase, key)
            for key in ("success", "return")
            for when, phase in (("before", "explore"), ("after", "evaluate"))
        }
        results |= {
            "episodes_used": spent,
            "episodes": {p: self.log.count(p) for p in PHASES},
            "wall_clock_s": round(time.time() - self.log.started, 1),
        }  # from the first start, resumes included
        (self.log.out_dir / "results.json").write_text(json.dumps(results, indent=2))
        # the maze counts goals reached; the kitchen's return counts the subtasks completed in order
        key, what = ("return", "completed subtasks") if self.domain == "kitchen" else ("success", "success")

        def fmt(value):
            return "n/a" if value is None else f"{value:.2f}"

        self.get_logger().info(
            f"adaptation done: {what} before {fmt(results[f'{key}_before'])} "
            f"({self.log.count('explore')} exploration episodes), after "
            f"{fmt(results[f'{key}_after'])} ({self.log.count('evaluate')} evaluation episodes); "
            f"{spent} episodes used, {results['wall_clock_s']} s"
        )
        raise SystemExit(0)


def main(args=None) -> None:
    sys.exit(run(AdaptationNode, args))


if __name__ == "__main__":
    main()
