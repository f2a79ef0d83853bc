"""Latency-targeted pruning: choose each step's MACs ratio from the latencies measured so far.

MACs are not latency: a backend has a fixed per-call cost and layers that do not shrink with width,
so halving MACs rarely halves p50. After every step we fit `latency = a + b * macs_ratio` to the
measured points (just proportional scaling until there are two) and aim the next step at the ratio
the fit predicts for the target, never cutting more than `max_cut` of the remaining MACs in one step
(so fine-tuning can keep up) and never below `floor`.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LatencyController:
    target_ms: float
    floor: float = 0.05  # lowest MACs ratio we may prune to
    max_cut: float = 0.5  # at most this fraction of the current MACs per step
    min_cut: float = 0.03  # at least this much per step, so a noisy measurement cannot stall the run
    points: list[tuple[float, float]] = field(default_factory=list)  # (macs_ratio, p50 ms)

    def observe(self, macs_ratio: float, p50_ms: float) -> None:
        self.points.append((float(macs_ratio), float(p50_ms)))

    @property
    def met(self) -> bool:
        return bool(self.points) and self.points[-1][1] <= self.target_ms

    @property
    def exhausted(self) -> bool:
        return bool(self.points) and self.points[-1][0] <= self.floor * 1.0001

    def predicted_ratio(self) -> float:
        """The MACs ratio at which the fitted latency equals the target."""
        r, ms = self.points[-1]
        fit = self._fit()
        if fit is not None:
            a, b = fit
            if b > 0:
                return (self.target_ms - a) / b
        return r * self.target_ms / ms  # proportional: optimistic when there is a fixed cost

    def next_macs_ratio(self) -> float:
        if not self.points:
            raise ValueError("measure the unpruned model first (observe)")
        r = self.points[-1][0]
        lo = max(self.floor, r * (1 - self.max_cut))
        hi = r * (1 - self.min_cut)
        return max(lo, min(hi, self.predicted_ratio()))

    def _fit(self) -> tuple[float, float] | None:
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        if len(self.points) < 2 or max(xs) - min(xs) < 1e-3:
            return None
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        return my - b * mx, b
