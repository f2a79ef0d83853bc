"""Time several runners side by side: round-robin rounds, so load that changes hits all of them alike.

    stats = time_interleaved({"fp32": run_a, "int8": run_b}, x, rounds=5)
    stats["int8"]["latency_ms_p50"] / stats["fp32"]["latency_ms_p50"]

On a shared machine one runner timed after another measures the load of the moment as much as the
runner. Here every round times each runner once (through `edgecv.utils.timing.time_runner`, the
harness's own loop), rotating which one goes first, and each runner's headline is the median of its
per-round p50s; the per-round p50s and their spread come along, so a comparison can say how much
the rounds disagreed.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from ..utils.timing import OtherLoad, TimingConfig, latency_stats, time_runner

DEFAULT_TIMING = TimingConfig(warmup=5, min_runs=20, min_time_s=0.5)


def time_interleaved(runners: Mapping[str, Callable], x: Any, rounds: int = 5, cfg: TimingConfig = DEFAULT_TIMING,
                     batch: int | None = None, samplers: Mapping[str, Callable[[Any], np.ndarray]] | None = None,
                     ) -> dict[str, dict]:
    """Per-runner latency of `runners` (name -> callable(x)) timed in `rounds` round-robin rounds.

    `x` is one input for every runner, or a mapping name -> input. `batch` (default: `len(x)`)
    gives the throughput. `samplers` (name -> callable(x) returning per-call seconds) time some
    entries with their own loop instead of `time_runner` (e.g. a bare reference loop that the
    harness is checked against); they take part in the rounds like any runner.

    Each value holds `latency_ms_p50` (median of the per-round p50s), `latency_ms_p90` (median of the
    per-round p90s), `latency_ms_p99` (the same for p99), `throughput_ips`, `round_p50_ms` (one per
    round, in round order), `spread_pct` ((max - min) / median of the per-round p50s, in percent),
    `rounds`, `runs` (timed calls over all rounds) and `busy_other_pct` (median share of the cores
    other processes used while it was timed; None where that cannot be measured).
    """
    samplers = dict(samplers or {})
    names = list(dict.fromkeys([*runners, *samplers]))
    if not names:
        raise ValueError("time_interleaved needs at least one runner")
    if rounds < 1:
        raise ValueError(f"time_interleaved needs rounds >= 1 (got {rounds})")
    inputs = {n: (x[n] if isinstance(x, Mapping) else x) for n in names}
    per_round: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]  # rotate who goes first
        for n in order:
            load = OtherLoad()
            if n in samplers:
                with load:
                    samples = np.asarray(samplers[n](inputs[n]), dtype=np.float64)
            else:
                samples = time_runner(runners[n], inputs[n], cfg, load)
            per_round[n].append(latency_stats(samples, _batch(batch, inputs[n]), load))
    return {n: _summary(per_round[n], _batch(batch, inputs[n])) for n in names}


def _batch(batch: int | None, x: Any) -> int:
    if batch is not None:
        return int(batch)
    try:
        return len(x)
    except TypeError:
        return 1


def _summary(stats: list[dict], batch: int) -> dict:
    p50 = np.array([s["latency_ms_p50"] for s in stats], dtype=np.float64)
    med = float(np.median(p50))
    busy = [s["busy_other_pct"] for s in stats if s["busy_other_pct"] is not None]
    return {
        "latency_ms_p50": round(med, 4),
        "latency_ms_p90": round(float(np.median([s["latency_ms_p90"] for s in stats])), 4),
        "latency_ms_p99": round(float(np.median([s["latency_ms_p99"] for s in stats])), 4),
        "throughput_ips": round(batch * 1000.0 / med, 2) if med > 0 else None,
        "round_p50_ms": [round(float(v), 4) for v in p50],
        "spread_pct": round(float((p50.max() - p50.min()) / med * 100), 2) if med > 0 else None,
        "rounds": len(stats),
        "runs": int(sum(s["runs"] for s in stats)),
        "busy_other_pct": round(float(np.median(busy)), 1) if busy else None,
    }
