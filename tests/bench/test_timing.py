"""The timing loop stops on both a minimum count and a minimum time; its statistics resist outliers."""
from __future__ import annotations

import time

import numpy as np
import pytest

from edgecv.bench.timing import TimingConfig, latency_stats, time_runner


def test_min_runs_and_min_time_are_both_reached():
    calls = []

    def runner(x):
        calls.append(1)
        time.sleep(0.002)

    t = time_runner(runner, None, TimingConfig(warmup=3, min_runs=5, min_time_s=0.15))
    assert t.sum() >= 0.14 and len(t) > 5  # time bound dominates: sleeps of >= 2 ms, 5 runs are not enough
    assert len(calls) == len(t) + 3  # warm-up calls are not timed
    fast = time_runner(lambda x: None, None, TimingConfig(warmup=0, min_runs=200, min_time_s=0.0))
    assert len(fast) == 200  # count bound dominates


def test_max_time_stops_a_slow_runner():
    t = time_runner(lambda x: time.sleep(0.02), None, TimingConfig(warmup=0, min_runs=1000, min_time_s=0, max_time_s=0.1))
    assert 5 <= len(t) < 20


def test_stats_are_percentiles_and_outlier_resistant():
    samples = np.full(100, 0.010)
    samples[:50] = 0.009
    samples[-1] = 1.0  # one 100x outlier (a preemption on a shared machine)
    s = latency_stats(samples, batch=4)
    assert s["latency_ms_p50"] == pytest.approx(9.5, abs=0.51)
    assert s["latency_ms_p90"] == pytest.approx(10.0)
    assert s["latency_ms_mean"] < 10.1  # the outlier is not in the mean
    assert s["outliers"] == 1 and s["runs"] == 100
    assert s["throughput_ips"] == pytest.approx(4 * 1000 / s["latency_ms_p50"], rel=1e-3)
    assert s["latency_ms_p99"] > 10  # ... but it is visible in the tail


def test_bad_config_is_rejected():
    with pytest.raises(ValueError):
        TimingConfig(min_runs=0)
