"""`simpl-ros bench`: what the serving graph costs on this machine.

- latency: the maze_sim graph in separate processes at its 100 Hz control rate (rtf 1); the sim times every
  observation -> command round trip through DDS (step message out, skill decoder, command back) and counts the
  control steps that came without a new command (missed deadlines).
- the floor: the same round trip at the same rate with no work in it (this process and `latency_echo`), what two
  rclpy processes and DDS cost alone here; the graph's latency minus the floor is what the nodes add.
- compute: per-call time of the selector's and the encoder's graphs (onnxruntime, one thread), as the nodes call
  them: one high_level_policy call per skill choice, one task_encoder call over the exploration context.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from simpl_core.runtime.bundle import PolicyBundle
from simpl_ros.common.node_main import bundle_path
from simpl_ros.tools.launcher import Stack, load_graph, node_commands, parse_arguments


def percentiles(values_ms) -> dict:
    values = np.asarray(values_ms, float)
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 3),
        "p99_ms": round(float(np.percentile(values, 99)), 3),
        "max_ms": round(float(values.max()), 3),
        "count": int(values.size),
    }


@contextmanager
def spinning_node(name: str):
    """An rclpy node in a context of its own (the caller may have rclpy initialised already), spun on a thread."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node(name, context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    try:
        yield node
    finally:
        executor.shutdown(timeout_sec=2.0)
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def wait_until(done, alive, timeout_s: float, what: str) -> float:
    """Poll `done()` until true; raise if `alive()` turns false or the timeout passes. The time it took."""
    started = time.monotonic()
    while not done():
        if time.monotonic() - started > timeout_s or not alive():
            raise RuntimeError(f"{what} stopped or timed out after {time.monotonic() - started:.0f} s")
        time.sleep(0.2)
    return time.monotonic() - started


def graph_latency(steps: int, bundle: str, rtf: float = 1.0, timeout_s: float = 900.0) -> dict:
    """Run maze_sim until `steps` control steps are done; the sims' per-episode latency records, pooled."""
    from std_msgs.msg import String

    from simpl_ros.common.messages import EPISODE_TOPIC

    graph = load_graph("maze_sim")
    stack = Stack(
        node_commands(graph, parse_arguments(graph, [f"rtf:={rtf}", f"bundle:={bundle}"])),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        out=open(os.devnull, "w"),
    ).start()
    summaries: list[dict] = []
    try:
        with spinning_node("latency_bench") as node:
            node.create_subscription(String, EPISODE_TOPIC, lambda msg: summaries.append(json.loads(msg.data)), 10)
            wall_clock = wait_until(
                lambda: sum(s["steps"] for s in summaries) >= steps,
                lambda: all(p.poll() is None for p in stack.processes.values()),
                timeout_s,
                f"the graph ({len(summaries)} episodes)",
            )
    finally:
        stack.stop()
    horizon = PolicyBundle.read_manifest(bundle_path(bundle))["skill_horizon"]
    by_step = [(int(t), v) for s in summaries for t, v in s["latency_ms"].items()]  # JSON keys are text
    latencies = [v for _, v in by_step]
    period_ms = 1e3 / (100.0 * rtf)
    done = sum(s["steps"] for s in summaries)
    return {
        "steps": done,
        "episodes": len(summaries),
        "rate_hz": 100.0 * rtf,
        "observation_to_command": percentiles(latencies),
        # a step where a new skill is chosen waits for the selector too (two more DDS hops)
        "within_a_skill": percentiles([v for t, v in by_step if t % horizon]),
        "skill_choice_steps": percentiles([v for t, v in by_step if t % horizon == 0]),
        "over_one_period": int(np.sum(np.asarray(latencies) > period_ms)),
        "missed_deadlines": int(sum(s["missed_commands"] for s in summaries)),
        "wall_clock_s": round(wall_clock, 1),
        "latency_ms": latencies,
    }


def step_message(dims: dict, observation: np.ndarray):
    """The step layout of a bundle's dims and one step message carrying `observation` (what the sim publishes)."""
    from simpl_ros.common.messages import step_layout

    layout = step_layout(dims["state"], dims["action"])
    return layout, layout.pack(
        episode=1,
        step=3,
        reward=0.0,
        terminated=False,
        truncated=False,
        action=np.zeros(dims["action"]),
        observation=observation,
    )


def floor_latency(steps: int, bundle: str, timeout_s: float = 900.0) -> dict:
    """The same round trip with no work in it: this process plays the sim (a step-sized message at the control
    rate, from an rclpy timer) and `latency_echo`, another process, answers each with a command-sized message.
    What two rclpy processes and DDS cost on this machine, against which the graph's latency reads."""
    from std_msgs.msg import Float64MultiArray

    from simpl_ros.common.messages import PING_TOPIC, PONG_TOPIC, STREAM_DEPTH
    from simpl_ros.executables import NODES

    manifest = PolicyBundle.read_manifest(bundle_path(bundle))
    dims, rate_hz = manifest["dims"], float(manifest["control_rate_hz"])
    ping_msg = step_message(dims, np.zeros(dims["state"]))[1]
    echo = subprocess.Popen(
        [sys.executable, "-m", NODES["latency_echo"], "--ros-args", "-p", f"answer_size:={dims['action']}"],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    trips = {"sent_at": None, "answered": False, "latency_ms": [], "missed": 0, "ticks": 0}

    def on_pong(_msg) -> None:
        if trips["sent_at"] is not None:  # the first answer after a ping answers it (as the sim times commands)
            trips["latency_ms"].append((time.perf_counter() - trips["sent_at"]) * 1e3)
            trips["sent_at"] = None
        trips["answered"] = True

    def on_tick() -> None:
        if trips["latency_ms"]:  # counted once the echo answers; until then every tick pings again (discovery may
            trips["ticks"] += 1  # lose the first messages)
            trips["missed"] += not trips["answered"]
        trips["answered"] = False
        trips["sent_at"] = time.perf_counter()
        ping.publish(ping_msg)

    try:
        with spinning_node("latency_floor") as node:
            ping = node.create_publisher(Float64MultiArray, PING_TOPIC, STREAM_DEPTH)
            node.create_subscription(Float64MultiArray, PONG_TOPIC, on_pong, 10)
            wait_until(lambda: ping.get_subscription_count() > 0, lambda: echo.poll() is None, 60.0, "latency_echo")
            node.create_timer(1.0 / rate_hz, on_tick)
            wall_clock = wait_until(
                lambda: trips["ticks"] >= steps, lambda: echo.poll() is None, timeout_s, "latency_echo"
            )
    finally:
        echo.send_signal(signal.SIGINT)
        echo.wait(timeout=10.0)
    return {
        "steps": trips["ticks"],
        "rate_hz": rate_hz,
        "round_trip": percentiles(trips["latency_ms"]),
        "missed_deadlines": trips["missed"],
        "wall_clock_s": round(wall_clock, 1),
    }


def compute_times(bundle_dir: str, calls: int = 5000, context: int = 4000, seed: int = 0) -> dict:
    bundle = PolicyBundle.load(bundle_path(bundle_dir))
    dims = bundle.manifest["dims"]
    rng = np.random.default_rng(seed)
    state, e = rng.standard_normal((1, dims["state"]), np.float32), rng.standard_normal((1, dims["task"]), np.float32)
    transitions = rng.standard_normal((context, dims["transition"]), np.float32)

    def timed(call, count: int) -> dict:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            call()
            times.append((time.perf_counter() - started) * 1e3)
        return percentiles(times)

    from simpl_ros.common.messages import command_message, read_step

    z = bundle.high_level(state, e)[0]
    layout, step_msg = step_message(dims, state)
    return {
        "selector_high_level_policy": timed(lambda: bundle.high_level(state, e), calls),
        "decoder_skill_decoder": timed(lambda: bundle.decode(state, z), calls),
        # the decoder node's whole work per step, without ROS: read the step message, decode, clip, command
        "decoder_callback": timed(lambda: command_message(bundle, read_step(layout, step_msg).observation, z), calls),
        f"encoder_task_encoder_{context}_transitions": timed(lambda: bundle.encode_task(transitions), 50),
    }


def plot_latency(latencies_ms, period_ms: float, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.hist(latencies_ms, bins=np.logspace(np.log10(max(min(latencies_ms), 1e-3)), np.log10(max(latencies_ms)), 60))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.axvline(period_ms, color="red", linestyle=":", label=f"control period {period_ms:g} ms")
    ax.set_xlabel("observation -> command latency (ms)")
    ax.set_ylabel("control steps")
    ax.legend()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def run(steps: int, bundle: str, out_dir: str) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    latency = graph_latency(steps, bundle)
    plot_latency(latency["latency_ms"], 1e3 / latency["rate_hz"], out / "latency.png")
    report = {
        "graph": {k: v for k, v in latency.items() if k != "latency_ms"},
        "rclpy_floor": floor_latency(steps, bundle),
        "compute": compute_times(bundle),
    }
    (out / "latency.json").write_text(json.dumps(report, indent=2))
    return report


def format_report(report: dict) -> str:
    graph = report["graph"]
    lat = graph["observation_to_command"]
    floor = report["rclpy_floor"]
    trip = floor["round_trip"]
    lines = [
        f"maze_sim at {graph['rate_hz']:g} Hz, {graph['steps']} control steps ({graph['episodes']} episodes, "
        f"{graph['wall_clock_s']} s):",
        f"  observation -> command through DDS: p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, "
        f"max {lat['max_ms']} ms ({lat['count']} answered)",
        f"  answers later than one control period: {graph['over_one_period']}; steps without a new command "
        f"(missed deadlines): {graph['missed_deadlines']}",
        f"the floor: two rclpy processes, no work ({floor['steps']} steps at {floor['rate_hz']:g} Hz, "
        f"{floor['wall_clock_s']} s):",
        f"  round trip through DDS: p50 {trip['p50_ms']} ms, p99 {trip['p99_ms']} ms, max {trip['max_ms']} ms; "
        f"missed deadlines: {floor['missed_deadlines']}",
        "compute per call (onnxruntime, 1 thread):",
    ]
    for part in ("skill_choice_steps", "within_a_skill"):  # inserted under the pooled line
        lines.insert(
            2,
            f"    {part.replace('_', ' ')}: p50 {graph[part]['p50_ms']} ms, "
            f"p99 {graph[part]['p99_ms']} ms, "
            f"max {graph[part]['max_ms']} ms ({graph[part]['count']} steps)",
        )
    lines += [
        f"  {name}: p50 {v['p50_ms']} ms, p99 {v['p99_ms']} ms, max {v['max_ms']} ms"
        for name, v in report["compute"].items()
    ]
    return "\n".join(lines)
