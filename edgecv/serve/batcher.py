"""The bounded queue in front of the runner, and the dynamic batcher that empties it.

Requests put preprocessed images (CxHxW float32) into one bounded queue and get a Future per image.
One worker thread owns the runner: it takes the oldest image, waits up to `max_wait_s` (counted from
when that image arrived) for up to `max_batch` images, stacks them into ONE runner call and sets each
Future from its row of the output. The same pattern as Triton's and TorchServe's dynamic batching.

- Backpressure: `submit` never blocks and never grows the queue past `capacity`; a request that does
  not fit raises QueueFull (the service answers 503 + Retry-After), so memory stays bounded.
- A request of several images is admitted whole or not at all.
- A Future the caller cancelled (client gone) is skipped, never run.
- `stop` refuses new work, lets queued work finish within a deadline, then fails what is left with
  ShuttingDown: no caller waits forever.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

log = logging.getLogger("edgecv.serve")


class QueueFull(Exception):
    """The queue has no room for the request now: retry later."""


class ShuttingDown(Exception):
    """The batcher is stopping and takes or finishes no more work."""


@dataclass(frozen=True)
class BatchOutput:
    logits: np.ndarray  # this image's output row
    batch_size: int  # images in the runner call it shared
    inference_s: float  # that call's duration


@dataclass
class _Queued:
    x: np.ndarray
    future: Future
    enqueued: float  # time.monotonic() at admission


class DynamicBatcher:
    def __init__(self, run_batch: Callable[[np.ndarray], np.ndarray], max_batch: int = 1, max_wait_s: float = 0.0,
                 capacity: int = 256, on_batch: Callable[[int, float], None] | None = None):
        """`run_batch`: NCHW float32 -> (N, ...) outputs (e.g. `Predictor.logits`), only ever called
        from the worker thread. `on_batch(size, seconds)` is told about every runner call."""
        if max_batch < 1 or capacity < 1 or max_wait_s < 0:
            raise ValueError(f"DynamicBatcher needs max_batch >= 1, capacity >= 1, max_wait_s >= 0 "
                             f"(got {max_batch}, {capacity}, {max_wait_s})")
        self.run_batch = run_batch
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.capacity = capacity
        self.on_batch = on_batch
        self.warmed = threading.Event()  # set once the warm-up call has returned (or failed)
        self.warmup_error: str | None = None
        self._queue: deque[_Queued] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._stop_lock = threading.Lock()  # stop() may be called twice (at the shutdown signal and at exit)
        self._stopped = False

    @property
    def depth(self) -> int:
        """Images admitted and not yet taken by the runner."""
        return len(self._queue)

    @property
    def ready(self) -> bool:
        return self.warmed.is_set() and self.warmup_error is None and not self._closed

    @property
    def closed(self) -> bool:
        return self._closed

    def start(self, warmup_input: np.ndarray | None = None) -> None:
        """Start the worker; it first runs `warmup_input` (one CxHxW image) so the first request does
        not pay for lazy initialisation (memory arenas, kernel selection)."""
        if self._thread is not None:
            raise RuntimeError("the batcher is already started")
        self._thread = threading.Thread(target=self._work, args=(warmup_input,), name="edgecv-batcher", daemon=True)
        self._thread.start()

    def submit(self, inputs: Sequence[np.ndarray]) -> list[Future]:
        """Queue the images, all or none; one Future per image resolving to a BatchOutput. Never blocks."""
        with self._cond:
            if self._closed:
                raise ShuttingDown("the service is shutting down")
            if len(self._queue) + len(inputs) > self.capacity:
                raise QueueFull(f"the queue is full ({len(self._queue)} of {self.capacity} images waiting)")
            now = time.monotonic()
            items = [_Queued(x, Future(), now) for x in inputs]
            self._queue.extend(items)
            self._cond.notify()
        return [item.future for item in items]

    def stop(self, drain_timeout_s: float = 10.0) -> int:
        """Refuse new work, give queued work `drain_timeout_s` to finish, fail the rest with
        ShuttingDown and end the worker. Returns how many queued images were failed (0 on a second call)."""
        with self._stop_lock:
            if self._stopped:
                return 0
            with self._cond:
                self._closed = True
                self._cond.notify_all()  # a worker waiting for a batch to fill runs what it has at once
            failed = 0
            if self._thread is not None:
                self._thread.join(drain_timeout_s)
            failed = self._fail_queued()
            if failed:
                log.warning("shutdown: %d queued image(s) could not run within %g s and were refused", failed, drain_timeout_s)
            if self._thread is not None:
                self._thread.join(max(1.0, drain_timeout_s))  # the runner call in progress, if any, finishes
                if self._thread.is_alive():
                    log.warning("the runner did not return within the drain timeout; leaving its thread behind")
            self._stopped = True
            return failed

    def _fail_queued(self) -> int:
        with self._cond:
            left = list(self._queue)
            self._queue.clear()
        failed = 0
        for item in left:
            if item.future.set_running_or_notify_cancel():  # False: the caller already gave up
                item.future.set_exception(ShuttingDown("the service shut down before this image ran"))
                failed += 1
        return failed

    def _work(self, warmup_input: np.ndarray | None) -> None:
        if warmup_input is not None:
            try:
                self.run_batch(warmup_input[None])
            except Exception as e:  # the runtime's own error types: report, never kill the thread
                from ..utils.errors import first_line

                self.warmup_error = f"warm-up inference failed: {first_line(e)}"
                log.error(self.warmup_error)
        self.warmed.set()
        while (batch := self._next_batch()) is not None:
            self._run(batch)

    def _next_batch(self) -> list[_Queued] | None:
        """The next images to run together; None once closed and empty."""
        with self._cond:
            while True:
                if not self._queue:
                    if self._closed:
                        return None
                    self._cond.wait()
                    continue
                if not self._closed and len(self._queue) < self.max_batch:
                    # the batch may still fill: wait until the oldest image has waited max_wait_s
                    left = self._queue[0].enqueued + self.max_wait_s - time.monotonic()
                    if left > 0:
                        self._cond.wait(left)
                        continue
                batch = []
                while self._queue and len(batch) < self.max_batch:
                    item = self._queue.popleft()
                    if item.future.set_running_or_notify_cancel():  # skip what the caller cancelled
                        batch.append(item)
                if batch:
                    return batch

    def _run(self, batch: list[_Queued]) -> None:
        start = time.perf_counter()
        try:
            out = self.run_batch(np.stack([item.x for item in batch]))
            if len(out) != len(batch):
                raise RuntimeError(f"the runner returned {len(out)} rows for a batch of {len(batch)}")
        except Exception as e:  # every waiting caller gets the error; the worker carries on
            for item in batch:
                item.future.set_exception(e)
            return
        seconds = time.perf_counter() - start
        if self.on_batch is not None:  # before the results, so a caller that was answered sees its batch counted
            try:
                self.on_batch(len(batch), seconds)
            except Exception:
                log.exception("on_batch failed")
        for item, row in zip(batch, out):
            item.future.set_result(BatchOutput(row, len(batch), seconds))
