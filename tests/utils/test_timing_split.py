"""Runners that time themselves (the Runner contract's optional `time_call`, info["timing"] == "cuda_events"):
the timing loop asks them for each call's compute/H2D/D2H split, the harness puts the medians in the row
and the ledger shows them; runners that do not are timed on the host clock alone, as before. The CUDA
runner itself is checked on a GPU in tests/backends/test_torch_cuda.py."""
from __future__ import annotations

import time

import numpy as np
import torch

from edgecv.backends.base import FunctionRunner
from edgecv.utils.timing import CUDA_EVENTS, CallTiming, TimingConfig, measure_runner, split_stats, time_runner

FAST = TimingConfig(warmup=1, min_runs=5, min_time_s=0)
H2D, COMPUTE, D2H = 0.002, 0.006, 0.003  # seconds each phase of PhasedRunner takes


class PhasedRunner:
    """Works in three phases like a GPU runner (stage the batch in, compute, copy the logits out) and
    reports each phase's duration itself, as a CUDA runner does with events."""

    def __init__(self):
        self.info = {"device": "phased", "timing": CUDA_EVENTS}
        self.calls = {"plain": 0, "timed": 0}

    def __call__(self, x):
        self.calls["plain"] += 1
        return self._run(x)[0]

    def time_call(self, x) -> CallTiming:
        self.calls["timed"] += 1
        return self._run(x)[1]

    def _run(self, x):
        clock = time.perf_counter
        t0 = clock()
        staged = np.array(x, copy=True)
        time.sleep(H2D)
        t1 = clock()
        logits = np.tile(staged.reshape(len(staged), -1)[:, :1], (1, 10)).astype(np.float32)
        time.sleep(COMPUTE)
        t2 = clock()
        out = logits.copy()
        time.sleep(D2H)
        t3 = clock()
        return out, CallTiming(compute_s=t2 - t1, h2d_s=t1 - t0, d2h_s=t3 - t2)


def test_self_timed_runner_reports_its_split():
    runner = PhasedRunner()
    t = measure_runner(runner, np.zeros((2, 3, 4, 4), np.float32), FAST)
    assert runner.calls == {"plain": 1, "timed": len(t.wall_s)}  # warm-up plain, every timed call split
    assert t.compute_s is not None and len(t.compute_s) == len(t.h2d_s) == len(t.d2h_s) == len(t.wall_s) >= 5
    s = split_stats(t)
    assert s["latency_ms_compute_p50"] >= COMPUTE * 1000 and s["h2d_ms_p50"] >= H2D * 1000 and s["d2h_ms_p50"] >= D2H * 1000
    assert float(np.median(t.wall_s)) * 1000 >= s["latency_ms_compute_p50"] + s["h2d_ms_p50"] + s["d2h_ms_p50"]


def test_other_runners_are_timed_on_the_host_clock_only():
    seen = []
    runner = FunctionRunner(lambda x: seen.append(1) or x, {"device": "cpu", "threads": 1})
    t = measure_runner(runner, np.zeros(3), FAST)
    assert t.compute_s is None and t.h2d_s is None and t.d2h_s is None and len(t.wall_s) == len(seen) - 1
    assert split_stats(t) == {"latency_ms_compute_p50": None, "h2d_ms_p50": None, "d2h_ms_p50": None}
    assert len(time_runner(lambda x: None, None, FAST)) >= 5  # plain callables, as before


def test_function_runner_default_time_call():
    runner = FunctionRunner(lambda x: time.sleep(0.005) or x, {"device": "cpu"})
    c = runner.time_call(np.zeros(2))
    assert isinstance(c, CallTiming) and c.compute_s >= 0.005 and c.h2d_s is None and c.d2h_s is None


def test_harness_row_and_ledger_show_the_split(tmp_path):
    from edgecv.backends import BACKENDS
    from edgecv.bench import benchmark_artifact, markdown_table
    from edgecv.models import create_model

    model = create_model("cifar_resnet8", num_classes=10).eval()
    art = BACKENDS.get("torch").build(model, torch.zeros(1, 3, 16, 16), "fp32", None, tmp_path)
    split = benchmark_artifact(art, batches=[1], runner=PhasedRunner(), timing=FAST, parity=False)[0]
    assert split["status"] == "ok" and split["latency_ms_compute_p50"] >= COMPUTE * 1000
    assert split["h2d_ms_p50"] >= H2D * 1000 and split["d2h_ms_p50"] >= D2H * 1000
    assert split["latency_ms_p50"] >= split["latency_ms_compute_p50"]
    cpu = benchmark_artifact(art, batches=[1], threads=1, timing=FAST)[0]  # the torch backend's own CPU runner
    assert cpu["status"] == "ok" and cpu["latency_ms_p50"] > 0
    assert {k: cpu[k] for k in ("latency_ms_compute_p50", "h2d_ms_p50", "d2h_ms_p50")} == dict.fromkeys(
        ("latency_ms_compute_p50", "h2d_ms_p50", "d2h_ms_p50"))
    header = markdown_table([cpu, split]).splitlines()[0]
    assert "| compute p50 ms | H2D ms | D2H ms |" in header
    assert "compute p50 ms" not in markdown_table([cpu])  # CPU-only ledgers look as before


def test_a_phase_missing_from_any_call_is_not_reported():
    class Partial(PhasedRunner):
        def time_call(self, x):
            return CallTiming(0.001, None, 0.001)  # no host->device copy (e.g. the input already on the device)

    t = measure_runner(Partial(), np.zeros((1, 1)), FAST)
    assert t.compute_s is not None and t.h2d_s is None and t.d2h_s is not None
