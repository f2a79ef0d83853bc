"""What a demo run measured: frames, drops, reconnects, FPS and inference percentiles."""
from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class FrameRecord:
    """One processed frame's answer (kept only when asked: a camera runs for hours)."""

    index: int  # the frame's position in the source
    prediction: object  # edgecv.app.Prediction


@dataclass
class DemoStats:
    source: str
    frames: int = 0  # frames classified
    dropped: int = 0  # live frames replaced by newer ones before they were classified
    skipped: int = 0  # frames the source could not decode (e.g. a corrupt image in a folder)
    reconnects: int = 0
    elapsed_s: float = 0.0
    queue_size: int = 0
    max_queue_depth: int = 0
    end_reason: str = ""
    source_lost: bool = False  # a live source dropped for good, or a file that did not decode to its end
    saved: Path | None = None
    snapshots: list[Path] = field(default_factory=list)
    infer_ms: array = field(default_factory=lambda: array("d"))  # 8 bytes a frame, for the percentiles
    records: list[FrameRecord] = field(default_factory=list)

    @property
    def fps(self) -> float:
        """End-to-end frames per second over the whole run (capture, inference, drawing, saving)."""
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(np.frombuffer(self.infer_ms, dtype=np.float64), q)) if self.infer_ms else 0.0

    @property
    def p50_ms(self) -> float:
        return self.percentile_ms(50)

    @property
    def p95_ms(self) -> float:
        return self.percentile_ms(95)

    def summary(self) -> str:
        parts = [f"frames {self.frames}", f"dropped {self.dropped}", f"{self.fps:.1f} FPS",
                 f"inference p50 {self.p50_ms:.1f} ms, p95 {self.p95_ms:.1f} ms"]
        if self.reconnects:
            parts.append(f"reconnects {self.reconnects}")
        if self.skipped:
            parts.append(f"unreadable {self.skipped}")
        return f"{self.source}: " + " | ".join(parts) + (f" ({self.end_reason})" if self.end_reason else "")


class FpsMeter:
    """A smoothed frames-per-second for the overlay: an exponential moving average of the frame
    rate, so the number is readable instead of jumping with every frame."""

    def __init__(self, smoothing: float = 0.9):
        self.smoothing = smoothing
        self.value = 0.0
        self._last: float | None = None

    def tick(self, now: float) -> float:
        if self._last is not None and now > self._last:
            rate = 1.0 / (now - self._last)
            self.value = rate if self.value == 0 else self.smoothing * self.value + (1 - self.smoothing) * rate
        self._last = now
        return self.value
