"""Precision advice: for each model and backend, the fastest precision whose top-1 is within the budget.

Works on any ledger rows (ONNX Runtime, TFLite, TensorRT, ...): a backend is known only as the reference
(eager PyTorch) that every other is compared with. INT8 is
never assumed to win: on ONNX Runtime CPU, QDQ INT8 was 3x faster than FP32 for ResNet-50 but 2x
slower for MobileNetV3-small, so the advice is read off measured latency only.
"""
from __future__ import annotations

from typing import Callable, Sequence

from ..backends import REFERENCE_BACKEND, REFERENCE_PRECISION

FLOAT_REFERENCE = REFERENCE_PRECISION


def model_key(row: dict) -> str:
    """Rows of one model share this: its role in a run, else its source model, else its name."""
    return str(row.get("role") or row.get("source_model") or row.get("name"))


def precision_advice(rows: Sequence[dict], budget: float, key: Callable[[dict], str] = model_key,
                     batch: int | None = None) -> list[dict]:
    """One advice row per (model, backend) that has a measured FP32 reference.

    A candidate counts if it has top-1 and p50 latency (status ok or inaccurate: the budget, not the
    harness thresholds, decides). The FP32 reference is the same backend's FP32 row, else the model's
    PyTorch (torch) FP32 row. Rows at other batch sizes than `batch` (default: each model's smallest) are ignored.
    """
    measured = [r for r in rows if r.get("top1") is not None and r.get("latency_ms_p50") is not None
                and r.get("status", "ok") in ("ok", "inaccurate")]
    by_model: dict[str, list[dict]] = {}
    for r in measured:
        by_model.setdefault(key(r), []).append(r)
    out = []
    for model, items in by_model.items():
        b = batch if batch is not None else min(int(r.get("batch") or 1) for r in items)
        items = [r for r in items if int(r.get("batch") or 1) == b]
        torch_ref = next((r for r in items if r.get("backend") == REFERENCE_BACKEND and r.get("precision") == FLOAT_REFERENCE), None)
        for backend in dict.fromkeys(r.get("backend") for r in items):
            cands = [r for r in items if r.get("backend") == backend]
            ref = next((r for r in cands if r.get("precision") == FLOAT_REFERENCE), None) or torch_ref
            if ref is None:
                continue
            out.append(_advise(model, backend, cands, ref, budget, b))
    return out


def _advise(model: str, backend: str, cands: list[dict], ref: dict, budget: float, batch: int) -> dict:
    fp32_top1, fp32_lat = float(ref["top1"]), float(ref["latency_ms_p50"])
    options = []
    shared = {p for p in (r.get("precision") for r in cands) if sum(c.get("precision") == p for c in cands) > 1}
    for r in sorted(cands, key=lambda r: r["latency_ms_p50"]):
        drop = round(fp32_top1 - float(r["top1"]), 3)
        label = r.get("variant") or (f"{r.get('precision')} ({r.get('name')})" if r.get("precision") in shared else r.get("precision"))
        options.append({"precision": r.get("precision"), "label": label, "name": r.get("name"), "top1": r["top1"], "drop": drop,
                        "latency_ms_p50": r["latency_ms_p50"], "speedup": round(fp32_lat / r["latency_ms_p50"], 2),
                        "within_budget": drop <= budget + 1e-9, "path": r.get("path")})
    ok = [o for o in options if o["within_budget"]]
    best = ok[0] if ok else None
    slower = [o["label"] for o in options if o["precision"] != FLOAT_REFERENCE and o["speedup"] < 1]
    note = []
    if slower:
        note.append(f"{', '.join(slower)} slower than FP32 here")
    if best is None:
        note.append("no precision meets the budget")
    return {"model": model, "backend": backend, "batch": batch, "budget": budget, "fp32_top1": fp32_top1,
            "fp32_latency_ms": fp32_lat, "advice": best["precision"] if best else None,
            "advice_label": best["label"] if best else None, "path": best["path"] if best else None,
            "top1": best["top1"] if best else None, "drop": best["drop"] if best else None,
            "latency_ms_p50": best["latency_ms_p50"] if best else None, "speedup": best["speedup"] if best else None,
            "note": "; ".join(note) or None, "options": options}


def advice_markdown(advice: Sequence[dict]) -> str:
    """The advice as a markdown table (one line per model and backend, all options listed)."""
    if not advice:
        return "_no model has both an FP32 reference and a quantized variant measured_\n"
    from ..utils.tables import markdown_table

    fmt = lambda v, f: "-" if v is None else f.format(v)  # noqa: E731
    body = [[a["model"], a["backend"], f"{a['advice_label'] or 'none'} (budget {a['budget']} pt)", fmt(a["top1"], "{:.2f}"),
             fmt(a["drop"], "{:.2f}"), fmt(a["latency_ms_p50"], "{:.3f}"), fmt(a["speedup"], "{:.2f}"),
             ", ".join(f"{o['label']} {o['latency_ms_p50']:.3f} ({o['drop']:+.2f})" for o in a["options"]), a["note"] or ""]
            for a in advice]
    return markdown_table(["model", "backend", "fastest within budget", "top-1 %", "drop pt", "p50 ms", "x FP32",
                           "all options (p50 ms, drop pt)", "note"], body)
