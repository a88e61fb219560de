"""Single-sample inference latency of the skill graphs: torch eager vs onnxruntime (intra_op_num_threads=1)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def latency_us(call: Callable[[], object], calls: int, warmup: int = 200) -> dict[str, float]:
    for _ in range(warmup):
        call()
    samples = np.empty(calls)
    for i in range(calls):
        start = time.perf_counter_ns()
        call()
        samples[i] = time.perf_counter_ns() - start
    samples /= 1e3
    return {
        "p50_us": float(np.percentile(samples, 50)),
        "p99_us": float(np.percentile(samples, 99)),
        "max_us": float(samples.max()),
    }


def run(bundle_dir: str, skills_dir: str | None = None, calls: int = 10_000, seed: int = 0) -> dict[str, dict]:
    from simpl_core.runtime.bundle import PolicyBundle

    bundle = PolicyBundle.load(bundle_dir)
    rng = np.random.default_rng(seed)
    state = rng.normal(10, 5, (1, bundle.state_dim)).astype(np.float32)
    z = rng.standard_normal((1, bundle.latent_dim)).astype(np.float32)
    decoder, prior = bundle.sessions["skill_decoder"], bundle.sessions["skill_prior"]
    results = {
        "onnxruntime decoder (session.run)": latency_us(lambda: decoder.run(None, {"state": state, "z": z}), calls),
        "onnxruntime prior (session.run)": latency_us(lambda: prior.run(None, {"state": state}), calls),
        "bundle.decode (checks inputs)": latency_us(lambda: bundle.decode(state, z), calls),
        "bundle.prior (checks inputs)": latency_us(lambda: bundle.prior(state), calls),
    }
    if skills_dir:
        import torch

        from simpl_core.skills.train import load_skill_model

        torch.set_num_threads(1)
        model, _ = load_skill_model(skills_dir)
        state_t, z_t = torch.from_numpy(state), torch.from_numpy(z)
        with torch.inference_mode():
            results["torch eager decoder (1 thread)"] = latency_us(lambda: model.decoder(state_t, z_t), calls)
            results["torch eager prior (1 thread)"] = latency_us(lambda: model.prior(state_t), calls)
    return results


def format_results(results: dict[str, dict]) -> str:
    lines = [f"{'graph':34s} {'p50 us':>8s} {'p99 us':>8s} {'max us':>8s}"]
    for name, r in results.items():
        lines.append(f"{name:34s} {r['p50_us']:8.1f} {r['p99_us']:8.1f} {r['max_us']:8.1f}")
    return "\n".join(lines)
