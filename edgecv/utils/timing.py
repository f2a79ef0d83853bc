"""The timing loop: warm-up, then timed runs until both a minimum count and a minimum time are reached.

Each call is timed on its own with perf_counter and the garbage collector paused (as timeit does),
so a collection never lands inside a measured call. Statistics are outlier-resistant: the headline
numbers are percentiles, and mean/std are computed after dropping samples far above the median
(modified z-score on the median absolute deviation).

GPU runners also time themselves: `measure_runner` asks a runner whose `info["timing"]` is
`CUDA_EVENTS` for each call's compute and host<->device copies (`Runner.time_call`, measured with
CUDA events after a synchronise, see edgecv/utils/cuda_timing.py); the headline latency stays the
wall time a caller waits.
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


CUDA_EVENTS = "cuda_events"  # a Runner's info["timing"] when it times its own calls on the GPU (Runner.time_call)


@dataclass(frozen=True)
class CallTiming:
    """One call as the device saw it, in seconds: the compute, and the host->device and device->host
    copies around it (None where the runner has no such copies, e.g. on the CPU)."""

    compute_s: float
    h2d_s: float | None = None
    d2h_s: float | None = None


@dataclass
class Timings:
    """Per-call seconds of the timed runs: `wall_s`, the host clock around each call (what a caller
    waits: copies, compute and synchronisation), and, for runners that time themselves on the device,
    each call's split into compute and transfers (as trtexec reports GPU compute, H2D and D2H)."""

    wall_s: np.ndarray
    compute_s: np.ndarray | None = None
    h2d_s: np.ndarray | None = None
    d2h_s: np.ndarray | None = None


def time_runner(runner: Callable, x, cfg: TimingConfig = TimingConfig(), load: "OtherLoad | None" = None) -> np.ndarray:
    """Seconds per call of `runner(x)`, one sample per call. With `load`, the CPU other processes
    used during the timed runs (not the warm-up) is measured into `load.percent`."""
    return _timed_loop(runner, x, cfg, load, split=False).wall_s


def measure_runner(runner, x, cfg: TimingConfig = TimingConfig(), load: "OtherLoad | None" = None) -> Timings:
    """`time_runner` for a Runner (edgecv.backends.base): the same loop, and where the runner says
    `info["timing"] == CUDA_EVENTS` every timed call goes through `runner.time_call(x)`, whose CUDA
    events give the call's compute and transfer times beside its wall time."""
    return _timed_loop(runner, x, cfg, load, split=runner.info.get("timing") == CUDA_EVENTS)


def split_stats(t: Timings) -> dict:
    """Median compute and transfer times in ms (`latency_ms_compute_p50`, `h2d_ms_p50`, `d2h_ms_p50`);
    None where the runner did not time itself on a device."""
    def p50(s):
        return None if s is None or not len(s) else round(float(np.median(s)) * 1000.0, 4)

    return {"latency_ms_compute_p50": p50(t.compute_s), "h2d_ms_p50": p50(t.h2d_s), "d2h_ms_p50": p50(t.d2h_s)}


def _timed_loop(runner, x, cfg: TimingConfig, load, split: bool) -> Timings:
    for _ in range(cfg.warmup):
        runner(x)
    clock = time.perf_counter
    samples: list[float] = []
    parts: list[CallTiming] = []
    gc_was_on = gc.isenabled()
    gc.disable()
    if load is not None:
        load.start()
    try:
        start = clock()
        while True:
            t0 = clock()
            if split:
                parts.append(runner.time_call(x))
            else:
                runner(x)
            t1 = clock()
            samples.append(t1 - t0)
            elapsed = t1 - start
            if len(samples) >= cfg.min_runs and elapsed >= cfg.min_time_s:
                break
            if elapsed >= cfg.max_time_s and len(samples) >= 5:
                break
    finally:
        if load is not None:
            load.stop()
        if gc_was_on:
            gc.enable()
    if not split:
        return Timings(np.asarray(samples))

    def column(name: str):
        values = [getattr(p, name) for p in parts]
        return None if any(v is None for v in values) else np.asarray(values, dtype=np.float64)

    return Timings(np.asarray(samples), column("compute_s"), column("h2d_s"), column("d2h_s"))


def latency_stats(samples_s: np.ndarray, batch: int, load: "OtherLoad | None" = None) -> dict:
    """Latency in ms (p50, p90, p99, mean, std), throughput in images/s from the median, outlier count,
    and `busy_other_pct`: the share of the machine's cores other processes used while it was timed
    (from `load`; None when not measured)."""
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
        "busy_other_pct": load.percent if load is not None else None,
    }


class OtherLoad:
    """CPU time used by OTHER processes while a block runs, as a percent of all the machine's cores.

        load = OtherLoad()
        samples = time_runner(runner, x, cfg, load)   # or: with OtherLoad() as load: ...
        load.percent  # e.g. 97.5 while another process spins both cores of a 2-core machine

    Machine-wide busy time comes from /proc/stat (all CPUs, jiffies), this process's own CPU time (all
    its threads) from os.times(); their difference over wall time x cores is what others used. `percent`
    stays None where /proc/stat is absent (macOS, Windows) or the block ran too briefly to tell.
    """

    MIN_SECONDS = 0.1  # /proc/stat counts in 10 ms ticks: shorter windows are noise

    def __init__(self):
        self.percent: float | None = None
        self._start: tuple | None = None

    def start(self) -> None:
        self.percent = None
        self._start = (_machine_busy_s(), _own_cpu_s(), time.perf_counter())

    def stop(self) -> float | None:
        if self._start is None:
            return None
        begin, own0, t0 = self._start
        self._start = None
        end, own1 = _machine_busy_s(), _own_cpu_s()
        elapsed = time.perf_counter() - t0
        if begin is None or end is None or elapsed < self.MIN_SECONDS or end[1] < 1:
            return None
        other = (end[0] - begin[0]) - (own1 - own0)
        self.percent = round(min(100.0, max(0.0, 100.0 * other / (elapsed * end[1]))), 1)
        return self.percent

    def __enter__(self) -> "OtherLoad":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _machine_busy_s() -> tuple[float, int] | None:
    """(seconds all CPUs spent busy since boot, number of CPUs) from /proc/stat; None without it."""
    import os

    try:
        with open("/proc/stat", encoding="ascii") as f:
            lines = f.read().splitlines()
        fields = [int(v) for v in lines[0].split()[1:]]
        cores = sum(1 for ln in lines if ln.startswith("cpu") and ln[3:4].isdigit())
        tick = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    # user nice system idle iowait irq softirq steal (guest time is already inside user/nice)
    busy = sum(fields[:8]) - fields[3] - (fields[4] if len(fields) > 4 else 0)
    return busy / tick, cores


def _own_cpu_s() -> float:
    import os

    t = os.times()
    return t.user + t.system
