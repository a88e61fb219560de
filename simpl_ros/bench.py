"""`simpl-ros bench`: what the serving graph costs on this machine.

- latency: the maze_sim graph in separate processes at its 100 Hz control rate (rtf 1); the sim times every
  observation -> command round trip through DDS (step message out, skill decoder, command back) and counts the
  control steps that came without a new command (missed deadlines).
- compute: per-call time of the selector's and the encoder's graphs (onnxruntime, one thread), as the nodes call
  them: one high_level_policy call per skill choice, one task_encoder call over the exploration context.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import numpy as np

from simpl_core.runtime.bundle import PolicyBundle
from simpl_ros.launcher import Stack, load_graph, node_commands, parse_arguments
from simpl_ros.node_main import bundle_path


def percentiles(values_ms) -> dict:
    values = np.asarray(values_ms, float)
    return {"p50_ms": round(float(np.percentile(values, 50)), 3), "p99_ms": round(float(np.percentile(values, 99)), 3),
            "max_ms": round(float(values.max()), 3), "count": int(values.size)}


def graph_latency(steps: int, bundle: str, rtf: float = 1.0, timeout_s: float = 900.0) -> dict:
    """Run maze_sim until `steps` control steps are done; the sims' per-episode latency records, pooled."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import String

    from simpl_ros.messages import EPISODE_TOPIC

    graph = load_graph("maze_sim")
    stack = Stack(node_commands(graph, parse_arguments(graph, [f"rtf:={rtf}", f"bundle:={bundle}"])),
                  env={**os.environ, "PYTHONUNBUFFERED": "1"}, out=open(os.devnull, "w")).start()
    context = rclpy.Context()  # its own: the caller may have rclpy initialised already
    rclpy.init(context=context)
    node = rclpy.create_node("latency_bench", context=context)
    summaries: list[dict] = []
    node.create_subscription(String, EPISODE_TOPIC, lambda msg: summaries.append(json.loads(msg.data)), 10)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    started = time.monotonic()
    try:
        while sum(s["steps"] for s in summaries) < steps:
            if time.monotonic() - started > timeout_s or any(p.poll() is not None for p in stack.processes.values()):
                raise RuntimeError(f"the graph stopped or timed out after {len(summaries)} episodes")
            time.sleep(0.2)
    finally:
        stack.stop()
        executor.shutdown(timeout_sec=2.0)
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    horizon = PolicyBundle.read_manifest(bundle_path(bundle))["skill_horizon"]
    by_step = [(int(t), v) for s in summaries for t, v in s["latency_ms"].items()]  # JSON keys are text
    latencies = [v for _, v in by_step]
    period_ms = 1e3 / (100.0 * rtf)
    done = sum(s["steps"] for s in summaries)
    return {"steps": done, "episodes": len(summaries), "rate_hz": 100.0 * rtf,
            "observation_to_command": percentiles(latencies),
            # a step where a new skill is chosen waits for the selector too (two more DDS hops)
            "within_a_skill": percentiles([v for t, v in by_step if t % horizon]),
            "skill_choice_steps": percentiles([v for t, v in by_step if t % horizon == 0]),
            "over_one_period": int(np.sum(np.asarray(latencies) > period_ms)),
            "missed_deadlines": int(sum(s["missed_commands"] for s in summaries)),
            "wall_clock_s": round(time.monotonic() - started, 1), "latency_ms": latencies}


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

    z = bundle.high_level(state, e)[0]
    return {"selector_high_level_policy": timed(lambda: bundle.high_level(state, e), calls),
            "decoder_skill_decoder": timed(lambda: bundle.decode(state, z), calls),
            f"encoder_task_encoder_{context}_transitions": timed(lambda: bundle.encode_task(transitions), 50)}


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
    report = {"graph": {k: v for k, v in latency.items() if k != "latency_ms"}, "compute": compute_times(bundle)}
    (out / "latency.json").write_text(json.dumps(report, indent=2))
    return report


def format_report(report: dict) -> str:
    graph = report["graph"]
    lat = graph["observation_to_command"]
    lines = [f"maze_sim at {graph['rate_hz']:g} Hz, {graph['steps']} control steps ({graph['episodes']} episodes, "
             f"{graph['wall_clock_s']} s):",
             f"  observation -> command through DDS: p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, "
             f"max {lat['max_ms']} ms ({lat['count']} answered)",
             f"  answers later than one control period: {graph['over_one_period']}; steps without a new command "
             f"(missed deadlines): {graph['missed_deadlines']}",
             "compute per call (onnxruntime, 1 thread):"]
    for part in ("skill_choice_steps", "within_a_skill"):  # inserted under the pooled line
        lines.insert(2, f"    {part.replace('_', ' ')}: p50 {graph[part]['p50_ms']} ms, p99 {graph[part]['p99_ms']} ms, "
                        f"max {graph[part]['max_ms']} ms ({graph[part]['count']} steps)")
    lines += [f"  {name}: p50 {v['p50_ms']} ms, p99 {v['p99_ms']} ms, max {v['max_ms']} ms"
              for name, v in report["compute"].items()]
    return "\n".join(lines)
