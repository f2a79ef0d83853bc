"""CUDA-event timing of one runner call: host->device copy, compute, device->host copy.

    clock = CallClock(torch, device)
    clock.start()            # synchronise the device, then the first event
    x = host.to(device, non_blocking=True)
    clock.mark()             # copy in done
    y = model(x)
    clock.mark()             # compute done
    out = y.cpu()
    clock.mark()             # copy out done
    clock.result()           # CallTiming(compute_s, h2d_s, d2h_s), waits for the last event

The events are recorded on the current stream, so the times are what the GPU spent on each phase, not
what the host saw (the harness measures that separately). `torch` is passed in: this layer never
imports it at module level.
"""
from __future__ import annotations

from .timing import CallTiming

PHASES = 3  # h2d, compute, d2h


class CallClock:
    """Four reusable CUDA events around the three phases of one call."""

    def __init__(self, torch, device):
        self._torch, self._device = torch, device
        self._events = [torch.cuda.Event(enable_timing=True) for _ in range(PHASES + 1)]
        self._recorded = 0

    def start(self) -> None:
        """Wait for all earlier work on the device (none of it is counted), then record the first event."""
        self._torch.cuda.synchronize(self._device)
        self._events[0].record()
        self._recorded = 1

    def mark(self) -> None:
        if not 0 < self._recorded <= PHASES:
            raise RuntimeError(f"CallClock.mark: {self._recorded} events recorded; start() first, then {PHASES} marks")
        self._events[self._recorded].record()
        self._recorded += 1

    def result(self) -> CallTiming:
        if self._recorded != PHASES + 1:
            raise RuntimeError(f"CallClock.result: {self._recorded} of {PHASES + 1} events recorded")
        e = self._events
        e[-1].synchronize()
        seconds = [e[i].elapsed_time(e[i + 1]) / 1000.0 for i in range(PHASES)]  # elapsed_time is in ms
        self._recorded = 0
        return CallTiming(compute_s=seconds[1], h2d_s=seconds[0], d2h_s=seconds[2])
