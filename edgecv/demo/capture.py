"""Capture on a reader thread, into a small bounded queue, reconnecting live sources that drop.

Live sources (cameras, streams) produce frames whether or not inference keeps up. When the queue is
full the reader throws the OLDEST frame away and counts it as dropped, so the loop always works on
the newest frame and the lag never grows. Files and folders are not live: nothing is gained by
skipping a frame of a file, so the reader waits for room instead and every frame is processed.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

import numpy as np

from ..utils.errors import first_line
from .sources import FrameSource

LIVE_QUEUE_SIZE = 1  # one waiting frame at most: the loop never works on a frame older than that
FILE_QUEUE_SIZE = 4  # lets decoding run a little ahead of inference


@dataclass(frozen=True)
class Reconnect:
    """Bounded reconnect attempts with exponential backoff (0.5, 1, 2, 4, 8 s by default).

    The budget is refilled only by a frame actually read, so a source that reopens but never
    delivers still gives up after `attempts` tries."""

    attempts: int = 5
    first_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def delay(self, attempt: int) -> float:
        """The wait before attempt number `attempt` (0-based)."""
        return min(self.first_delay_s * 2 ** attempt, self.max_delay_s)


@dataclass
class Frame:
    index: int  # position in the source, dropped frames included: gaps show what was skipped
    image: np.ndarray  # BGR HxWx3 uint8
    captured_at: float  # time.perf_counter() when it was read


@dataclass(frozen=True)
class SourceEnded:
    reason: str  # one line for the user
    lost: bool = False  # a live source that dropped and did not come back, or a reader failure


class FrameReader:
    """`source` read on a daemon thread; `get()` hands out Frames, then one SourceEnded."""

    def __init__(self, source: FrameSource, queue_size: int | None = None, reconnect: Reconnect = Reconnect(),
                 first: np.ndarray | None = None):
        size = queue_size or (LIVE_QUEUE_SIZE if source.live else FILE_QUEUE_SIZE)
        if size < 1:
            raise ValueError(f"queue_size must be >= 1, got {size}")
        self.source = source
        self.queue_size = size
        self.reconnect = reconnect
        self.dropped = 0
        self.reconnects = 0  # successful reconnections
        self.max_depth = 0  # the most frames ever waiting: never above queue_size
        self._first = first  # a frame read before the thread started (the one the input was checked on)
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        self._stop = threading.Event()
        self._read_started: float | None = None
        self._thread = threading.Thread(target=self._run, name="edgecv-demo-reader", daemon=True)

    def start(self) -> "FrameReader":
        self._thread.start()
        return self

    def get(self, timeout: float) -> Frame | SourceEnded | None:
        """The next item, or None when nothing arrived within `timeout` seconds."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def stalled_for(self) -> float:
        """Seconds the current source.read() has been running (0 when not reading): the loop's
        watchdog for drivers that block beyond their own timeouts."""
        started = self._read_started
        return time.perf_counter() - started if started is not None else 0.0

    def stop(self, join_timeout_s: float = 2.0) -> bool:
        """Ask the thread to end; True when it did (then the source is safe to close)."""
        self._stop.set()
        while True:  # free a reader waiting for room, so it sees the stop at once
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._thread.is_alive():
            self._thread.join(join_timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._finish(self._read_all())
        except Exception as e:  # a source's own failure ends the run with its message, not a thread traceback
            self._finish(SourceEnded(f"reading {self.source.description} failed: {first_line(e)}", lost=True))

    def _read_all(self) -> SourceEnded:
        index = 0
        if self._first is not None:
            self._put(Frame(0, self._first, time.perf_counter()))
            self._first, index = None, 1
        failed_attempts = 0
        while not self._stop.is_set():
            self._read_started = time.perf_counter()
            image = self.source.read()
            self._read_started = None
            if image is not None:
                failed_attempts = 0  # a delivered frame refills the reconnect budget
                self._put(Frame(index, image, time.perf_counter()))
                index += 1
                continue
            if not self.source.live:
                failure = getattr(self.source, "decode_failure", None)  # a file that stopped short of its end
                return SourceEnded(failure, lost=True) if failure else SourceEnded(f"end of {self.source.description}")
            reopened, failed_attempts = self._reconnect(failed_attempts)
            if self._stop.is_set():
                break
            if not reopened:
                return SourceEnded(f"{self.source.description} dropped and did not come back after "
                                   f"{self.reconnect.attempts} reconnect attempts", lost=True)
        return SourceEnded("stopped")

    def _reconnect(self, attempt: int) -> tuple[bool, int]:
        """Try to reopen, waiting longer each time; (reopened, attempts used so far)."""
        while attempt < self.reconnect.attempts:
            if self._stop.wait(self.reconnect.delay(attempt)):
                return False, attempt
            attempt += 1
            if self.source.reopen():
                self.reconnects += 1
                return True, attempt
        return False, attempt

    def _put(self, frame: Frame) -> None:
        if self.source.live:
            self._put_dropping_stale(frame)
        else:
            self._put_waiting(frame)
        self.max_depth = max(self.max_depth, self._queue.qsize())

    def _put_dropping_stale(self, frame: Frame) -> None:
        # only this thread puts, so once one frame is taken out there is room for the new one
        while True:
            try:
                self._queue.put_nowait(frame)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:  # the loop took it meanwhile
                    pass

    def _put_waiting(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _finish(self, ended: SourceEnded) -> None:
        self._put_waiting(ended)  # the end marker is never dropped: the loop must learn why it stopped
