"""The dynamic batcher on its own: batch formation, backpressure, cancellation, errors, shutdown."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from edgecv.serve.batcher import DynamicBatcher, QueueFull, ShuttingDown


class Runner:
    """Records each call's batch size; blocks while `gate` is clear; returns row sums as outputs."""

    def __init__(self, fail: bool = False):
        self.calls: list[int] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail = fail

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.calls.append(len(x))
        self.entered.set()
        assert self.gate.wait(10)
        if self.fail:
            raise RuntimeError("runtime exploded")
        return x.reshape(len(x), -1).sum(axis=1, keepdims=True)


def _img(v: float) -> np.ndarray:
    return np.full((3, 2, 2), v, dtype=np.float32)


def _started(runner, **kw) -> DynamicBatcher:
    b = DynamicBatcher(runner, **kw)
    b.start(warmup_input=_img(0))
    assert b.warmed.wait(10) and b.ready
    runner.calls.clear()
    return b


def test_waits_for_a_batch_to_fill_then_runs_it_in_one_call():
    runner = Runner()
    b = _started(runner, max_batch=3, max_wait_s=10.0, capacity=8)
    futures = b.submit([_img(1), _img(2)])
    time.sleep(0.1)
    assert runner.calls == [] and b.depth == 2  # still waiting for the third
    futures += b.submit([_img(3)])
    outs = [f.result(5) for f in futures]
    assert runner.calls == [3]
    assert [float(o.logits[0]) for o in outs] == [12.0, 24.0, 36.0] and {o.batch_size for o in outs} == {3}
    b.stop(1)


def test_runs_a_partial_batch_once_the_oldest_image_has_waited_max_wait():
    runner = Runner()
    b = _started(runner, max_batch=8, max_wait_s=0.15, capacity=8)
    start = time.monotonic()
    (f,) = b.submit([_img(1)])
    assert f.result(5).batch_size == 1
    assert 0.14 <= time.monotonic() - start < 3
    b.stop(1)


def test_backpressure_admits_whole_requests_up_to_capacity():
    runner = Runner()
    b = _started(runner, max_batch=1, capacity=2)
    runner.gate.clear()
    runner.entered.clear()
    first = b.submit([_img(1)])
    assert runner.entered.wait(5)  # taken by the runner: not counted in the queue
    queued = b.submit([_img(2), _img(3)])
    assert b.depth == 2
    with pytest.raises(QueueFull):
        b.submit([_img(4)])
    runner.gate.set()
    assert [f.result(5).batch_size for f in first + queued] == [1, 1, 1]
    with pytest.raises(QueueFull):  # larger than the whole queue: never admitted
        b.submit([_img(0)] * 3)
    b.stop(1)


def test_cancelled_images_are_skipped_and_errors_reach_every_waiter():
    runner = Runner(fail=True)
    b = DynamicBatcher(runner, max_batch=4, max_wait_s=10.0, capacity=8)
    futures = b.submit([_img(1), _img(2), _img(3), _img(4)])  # queued before the worker starts
    assert futures[1].cancel()
    b.start()
    for f in (futures[0], futures[2], futures[3]):
        with pytest.raises(RuntimeError, match="runtime exploded"):
            f.result(5)
    assert runner.calls == [3]
    b.stop(1)


def test_a_failed_warm_up_is_reported_and_not_ready():
    b = DynamicBatcher(Runner(fail=True))
    b.start(warmup_input=_img(0))
    assert b.warmed.wait(5) and not b.ready and "runtime exploded" in b.warmup_error
    b.stop(1)


def test_stop_finishes_the_running_batch_and_fails_what_is_queued_after_the_deadline():
    runner = Runner()
    b = _started(runner, max_batch=1, capacity=8)
    runner.gate.clear()
    runner.entered.clear()
    (running,) = b.submit([_img(1)])
    assert runner.entered.wait(5)
    queued = b.submit([_img(2), _img(3)])
    failed = []
    stopper = threading.Thread(target=lambda: failed.append(b.stop(drain_timeout_s=0.2)))
    stopper.start()
    for f in queued:
        with pytest.raises(ShuttingDown):
            f.result(5)
    with pytest.raises(ShuttingDown):
        b.submit([_img(4)])
    runner.gate.set()
    stopper.join(10)
    assert running.result(5).batch_size == 1 and failed == [2] and not b.ready


def test_stop_drains_queued_work_within_the_deadline():
    runner = Runner()
    b = _started(runner, max_batch=2, max_wait_s=30.0, capacity=8)
    futures = b.submit([_img(1)])  # would wait 30 s for a partner; stopping runs it at once
    start = time.monotonic()
    assert b.stop(drain_timeout_s=10) == 0
    assert futures[0].result(0).batch_size == 1 and time.monotonic() - start < 5
