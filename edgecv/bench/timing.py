"""The timing loop: warm-up, then timed runs until both a minimum count and a minimum time are reached.

Each call is timed on its own with perf_counter and the garbage collector paused (as timeit does),
so a collection never lands inside a measured call. Statistics are outlier-resistant: the headline
numbers are percentiles, and mean/std are computed after dropping samples far above the median
(modified z-score on the median absolute deviation).
"""
from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class TimingConfig:
    warmup: int = 10
    min_runs: int = 50
    min_time_s: float = 1.0
    max_time_s: float = 60.0  # stop a very slow artifact after this, once it has 5 runs

    def __post_init__(self):
        if self.warmup < 0 or self.min_runs < 1 or self.min_time_s < 0:
            raise ValueError(f"timing needs warmup >= 0, min_runs >= 1, min_time_s >= 0 (got {self})")


def time_runner(runner: Callable, x, cfg: TimingConfig = TimingConfig()) -> np.ndarray:
    """Seconds per call of `runner(x)`, one sample per call."""
    for _ in range(cfg.warmup):
        runner(x)
    clock = time.perf_counter
    samples: list[float] = []
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        start = clock()
        while True:
            t0 = clock()
            runner(x)
            t1 = clock()
            samples.append(t1 - t0)
            elapsed = t1 - start
            if len(samples) >= cfg.min_runs and elapsed >= cfg.min_time_s:
                break
            if elapsed >= cfg.max_time_s and len(samples) >= 5:
                break
    finally:
        if gc_was_on:
            gc.enable()
    return np.asarray(samples)


def latency_stats(samples_s: np.ndarray, batch: int) -> dict:
    """Latency in ms (p50, p90, p99, mean, std), throughput in images/s from the median, outlier count."""
    ms = np.asarray(samples_s, dtype=np.float64) * 1000.0
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    mad = np.median(np.abs(ms - p50))
    if mad > 0:
        keep = 0.6745 * (ms - p50) / mad <= 3.5  # only slow outliers: a run cannot be faster than the work
    else:
        keep = np.ones_like(ms, dtype=bool)
    inliers = ms[keep]
    return {
        "latency_ms_p50": round(float(p50), 4),
        "latency_ms_p90": round(float(p90), 4),
        "latency_ms_p99": round(float(p99), 4),
        "latency_ms_mean": round(float(inliers.mean()), 4),
        "latency_ms_std": round(float(inliers.std()), 4),
        "throughput_ips": round(float(batch * 1000.0 / p50), 2) if p50 > 0 else None,
        "runs": int(ms.size),
        "outliers": int(ms.size - inliers.size),
    }
