"""The timing loop stops on both a minimum count and a minimum time; its statistics resist outliers."""
from __future__ import annotations

import time

import numpy as np
import pytest

from edgecv.utils.timing import TimingConfig, latency_stats, time_runner


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


def test_other_load_arithmetic(monkeypatch):
    """Machine busy time minus this process's own CPU, over wall time x cores."""
    import edgecv.utils.timing as timing

    machine = iter([(100.0, 2), (101.5, 2)])  # 1.5 CPU-seconds busy machine-wide ...
    own = iter([10.0, 10.5])  # ... of which 0.5 were this process
    clock = iter([0.0, 1.0])  # over 1 s on 2 cores -> others used 1.0 / 2 = 50 %
    monkeypatch.setattr(timing, "_machine_busy_s", lambda: next(machine))
    monkeypatch.setattr(timing, "_own_cpu_s", lambda: next(own))
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(clock))
    load = timing.OtherLoad()
    load.start()
    assert load.stop() == 50.0 and load.percent == 50.0


def test_other_load_is_none_without_proc_stat(monkeypatch):
    import edgecv.utils.timing as timing

    monkeypatch.setattr(timing, "_machine_busy_s", lambda: None)
    load = timing.OtherLoad()
    s = time_runner(lambda x: time.sleep(0.01), None, TimingConfig(warmup=0, min_runs=1, min_time_s=0.15), load)
    assert load.percent is None and latency_stats(s, 1, load)["busy_other_pct"] is None
    assert latency_stats(s, 1)["busy_other_pct"] is None  # not measured


def test_other_load_sees_busy_processes():
    """Processes spinning on every core read as a busy machine (this process's own share is tested above)."""
    import os
    import subprocess
    import sys

    from edgecv.utils.timing import OtherLoad, _machine_busy_s

    if _machine_busy_s() is None:
        pytest.skip("no /proc/stat here")
    cores = _machine_busy_s()[1]
    if cores > 32 or cores > len(os.sched_getaffinity(0)):
        pytest.skip(f"cannot saturate all {cores} cores of the machine from here")
    cfg = TimingConfig(warmup=0, min_runs=1, min_time_s=0.5)

    def measure():
        load = OtherLoad()
        return latency_stats(time_runner(lambda x: time.sleep(0.005), None, cfg, load), 1, load)["busy_other_pct"]

    idle = measure()
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    try:
        time.sleep(0.3)  # let them start spinning
        busy = measure()
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    # Every core is saturated: others use ~100 % (less this process's sleeping runner), whatever the
    # machine did before. On an idle machine that is far above the idle reading.
    assert busy >= min(idle + 40, 80), (idle, busy)
