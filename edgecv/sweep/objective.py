"""What a trial is scored on: one row of its run's ledger, turned into the objective values.

Objectives: `top1` (maximise top-1 %), `latency` (minimise p50 ms) and `score` (top-1 subject to a
latency bound: top-1 % when p50 <= the bound, else -p50/bound, so every trial over the bound ranks
below every trial within it, and of those over it the nearer ranks higher). Several objectives
(`top1,latency`) make a multi-objective study whose best trials are the Pareto set.

The row: among the run's ledger rows that match the metric-row filter (default `role=student`; e.g.
`role=pruned,backend=onnxruntime,precision=int8` pins one deployable artifact) and carry the metrics
the objectives need, the best by the objectives in the order given; top-1 ties go to the faster row.
Rows whose artifact failed (status other than ok/inaccurate) and the pruning-step log are skipped.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from .errors import SweepError

# name -> (direction, the ledger column it reads, what it needs)
OBJECTIVES: dict[str, tuple[str, str]] = {
    "top1": ("maximize", "top1"),
    "latency": ("minimize", "latency_ms_p50"),
    "score": ("maximize", "score"),
}
DEFAULT_METRIC_ROW = {"role": "student"}
_USABLE_STATUS = (None, "", "ok", "inaccurate")


def parse_objectives(text: str) -> list[str]:
    names = [p.strip() for p in (text or "").split(",") if p.strip()]
    if not names:
        raise SweepError(f"--objective: give one of {', '.join(OBJECTIVES)} (or several, comma-separated)")
    for n in names:
        if n not in OBJECTIVES:
            from ..registry import did_you_mean

            raise SweepError(f"--objective {n}: unknown objective{did_you_mean(n, list(OBJECTIVES))}; "
                             f"known: {', '.join(OBJECTIVES)}")
    if len(set(names)) != len(names):
        raise SweepError(f"--objective {text}: an objective is listed twice")
    return names


def directions(objectives: Sequence[str]) -> list[str]:
    return [OBJECTIVES[o][0] for o in objectives]


def parse_metric_row(text: str | None) -> dict[str, str]:
    """`role=student,backend=onnxruntime,precision=int8` -> {'role': 'student', ...}."""
    if not text:
        return dict(DEFAULT_METRIC_ROW)
    out = {}
    for part in text.split(","):
        k, eq, v = part.partition("=")
        if not eq or not k.strip() or not v.strip():
            raise SweepError(f"--metric-row {text}: expected key=value[,key=value...], e.g. role=student,backend=onnxruntime")
        out[k.strip()] = v.strip()
    return out


def check_objective_settings(objectives: Sequence[str], latency_bound: float | None) -> None:
    if "score" in objectives and latency_bound is None:
        raise SweepError("--objective score is top-1 subject to a latency bound: give --latency-bound MS")
    if latency_bound is not None and not (latency_bound > 0 and math.isfinite(latency_bound)):
        raise SweepError(f"--latency-bound must be a positive number of milliseconds (got {latency_bound})")


def score(top1: float, latency_ms: float, bound: float) -> float:
    """Top-1 % within the bound; -latency/bound (< -1) over it."""
    return float(top1) if latency_ms <= bound else -float(latency_ms) / bound


def row_label(row: dict) -> str:
    label = " ".join(str(row.get(k)) for k in ("role", "backend", "precision") if row.get(k) is not None)
    return label + (f" b{row['batch']}" if row.get("batch") not in (None, 1) else "")


def trial_metrics(rows: Sequence[dict], objectives: Sequence[str], metric_row: dict[str, str] | None = None,
                  latency_bound: float | None = None) -> dict[str, Any]:
    """{'values': [...one per objective], 'metrics': {'top1', 'latency_ms_p50', 'score'}, 'row': label}.

    Raises ValueError when no row matches: the trial is then recorded as failed with that message."""
    filt = metric_row or DEFAULT_METRIC_ROW
    need = set()
    for o in objectives:
        need |= {"top1", "latency_ms_p50"} if o == "score" else {OBJECTIVES[o][1]}
    matching = [r for r in rows if r.get("kind") != "prune_step" and r.get("status") in _USABLE_STATUS
                and all(str(r.get(k)) == v for k, v in filt.items())]
    usable = [r for r in matching if all(_finite(r.get(k)) for k in need)]
    if not usable:
        what = ",".join(f"{k}={v}" for k, v in filt.items())
        why = (f"none of its {len(matching)} has {' and '.join(sorted(need))}" if matching else
               "none (add an evaluate or benchmark stage, or change --metric-row)")
        raise ValueError(f"no ledger row of the run matches --metric-row {what}: {why}")
    scored = [(_metrics(r, latency_bound), r) for r in usable]

    def rank(item):  # best first: each objective in order, then higher top-1, then lower latency
        m = item[0]
        keys = [(-1 if OBJECTIVES[o][0] == "maximize" else 1) * m[OBJECTIVES[o][1]] for o in objectives]
        return keys + [-m.get("top1", -math.inf), m.get("latency_ms_p50", math.inf)]

    metrics, row = min(scored, key=rank)
    return {"values": [metrics[OBJECTIVES[o][1]] for o in objectives], "metrics": metrics, "row": row_label(row)}


def _metrics(row: dict, bound: float | None) -> dict[str, float]:
    m = {k: float(row[k]) for k in ("top1", "latency_ms_p50") if _finite(row.get(k))}
    if bound is not None and "top1" in m and "latency_ms_p50" in m:
        m["score"] = score(m["top1"], m["latency_ms_p50"], bound)
    return m


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
