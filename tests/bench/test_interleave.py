"""Interleaved timing: every runner is timed once per round, and a slower runner reads slower."""
from __future__ import annotations

import numpy as np
import pytest

from edgecv.bench import TimingConfig, time_interleaved

KEYS = {"latency_ms_p50", "latency_ms_p90", "latency_ms_p99", "throughput_ips", "round_p50_ms", "spread_pct",
        "rounds", "runs", "busy_other_pct"}
FAST = TimingConfig(warmup=1, min_runs=5, min_time_s=0.0)


def _matmul(n: int):
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    return lambda x: a @ a


def test_slower_runner_reads_slower_with_per_round_stats():
    order = []
    small, large = _matmul(16), _matmul(320)  # ~8000x the multiply-adds

    def tracked(name, fn):
        def run(x):
            order.append(name)
            return fn(x)
        return run

    stats = time_interleaved({"small": tracked("small", small), "large": tracked("large", large)}, None, rounds=4,
                             cfg=FAST, batch=2)
    assert list(stats) == ["small", "large"]
    for s in stats.values():
        assert set(s) == KEYS
        assert s["rounds"] == 4 and len(s["round_p50_ms"]) == 4 and s["runs"] >= 4 * 5
        assert s["latency_ms_p50"] == pytest.approx(float(np.median(s["round_p50_ms"])), abs=1e-3)
        assert s["latency_ms_p90"] >= s["latency_ms_p50"] > 0 and s["spread_pct"] >= 0
    assert stats["large"]["latency_ms_p50"] > 3 * stats["small"]["latency_ms_p50"]
    assert stats["large"]["throughput_ips"] == pytest.approx(2 * 1000 / stats["large"]["latency_ms_p50"], rel=1e-2)
    # round-robin, rotating who goes first: small|large, large|small, small|large, large|small (without the
    # rotation there would be 8 runs of consecutive calls, not 5)
    blocks = [order[0]] + [b for a, b in zip(order, order[1:]) if a != b]
    assert blocks == ["small", "large", "small", "large", "small"]
    assert order.count("small") == order.count("large") == 4 * (1 + 5)  # warm-up + timed calls, every round


def test_per_runner_inputs_and_own_samplers():
    x = {"a": np.zeros(3), "bare": np.zeros(7)}
    seen = {}

    def bare(inp):  # a runner timed by its own loop: returns seconds per call
        seen["bare"] = len(inp)
        return np.full(10, 0.002)

    stats = time_interleaved({"a": lambda v: seen.setdefault("a", len(v))}, x, rounds=2, cfg=FAST, samplers={"bare": bare})
    assert seen == {"a": 3, "bare": 7}
    assert stats["bare"]["latency_ms_p50"] == pytest.approx(2.0) and stats["bare"]["runs"] == 20
    assert stats["bare"]["throughput_ips"] == pytest.approx(7 * 1000 / 2.0) and stats["a"]["rounds"] == 2


def test_needs_a_runner_and_a_round():
    with pytest.raises(ValueError, match="at least one runner"):
        time_interleaved({}, None)
    with pytest.raises(ValueError, match="rounds >= 1"):
        time_interleaved({"a": lambda x: None}, None, rounds=0)
