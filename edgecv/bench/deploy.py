"""Which artifact to deploy on each backend, read off measured ledger rows: the fastest one within the
accuracy rule. INT8 is never assumed to win: where it is no faster than FP32 on this CPU (TFLite's XNNPACK
on x86 without VNNI, tiny models on ONNX Runtime whose quantize/dequantize steps cost what they save),
the measured latency says so and FP32 is chosen.

The accuracy rule: the row is `ok` (parity with its PyTorch source, or the INT8 agreement minimum, and
no more than `max_top1_drop` below its source), and its top-1 is no more than `max_top1_drop` points
below the FP32 reference model's (the teacher's) on the same backend, or in PyTorch when that backend
has no teacher row.

    choices = deploy_choices(rows, max_top1_drop=1.0)
    for line in deploy_lines(choices): print(line)
"""
from __future__ import annotations

from typing import Sequence

from ..backends import REFERENCE_BACKEND, REFERENCE_PRECISION

REFERENCE_ROLE = "teacher"


def _label(r: dict) -> str:
    return f"{r.get('role') or r.get('name')} {r.get('precision')}"


def deploy_choices(rows: Sequence[dict], max_top1_drop: float = 1.0, reference_role: str = REFERENCE_ROLE) -> list[dict]:
    """One entry per backend with a timed row: the artifact to deploy there (None when no row meets the rule),
    the reference it was held to, and the rows passed over because their INT8 is slower than FP32."""
    timed = [r for r in rows if r.get("latency_ms_p50") and r.get("top1") is not None and r.get("kind") is None]
    if not timed:
        return []
    batch = min(int(r.get("batch") or 1) for r in timed)
    timed = [r for r in timed if int(r.get("batch") or 1) == batch]
    refs = {r.get("backend"): r for r in timed if r.get("role") == reference_role and r.get("precision") == REFERENCE_PRECISION}
    out = []
    for backend in dict.fromkeys(r.get("backend") for r in timed):
        cands = [r for r in timed if r.get("backend") == backend]
        ref = refs.get(backend) or refs.get(REFERENCE_BACKEND)
        floor = float(ref["top1"]) - max_top1_drop if ref else None
        within = [r for r in cands if r.get("status") == "ok" and (floor is None or float(r["top1"]) >= floor - 1e-9)]
        best = min(within, key=lambda r: r["latency_ms_p50"]) if within else None
        out.append({
            "backend": backend, "batch": batch, "max_top1_drop": max_top1_drop,
            "reference": _label(ref) if ref else None, "reference_top1": ref["top1"] if ref else None,
            "choice": _label(best) if best else None, "role": best.get("role") if best else None,
            "name": best.get("name") if best else None, "precision": best.get("precision") if best else None,
            "path": best.get("path") if best else None, "top1": best["top1"] if best else None,
            "latency_ms_p50": best["latency_ms_p50"] if best else None,
            "speedup_vs_teacher": best.get("speedup_vs_teacher") if best else None,
            "int8_slower": int8_slower(cands),
        })
    return out


def int8_slower(rows: Sequence[dict]) -> list[dict]:
    """[{model, int8_ms, fp32_ms}] for each model whose INT8 row is no faster than its FP32 row (same backend)."""
    out = []
    for r in rows:
        if r.get("precision") != "int8" or not r.get("latency_ms_p50"):
            continue
        model = r.get("role") or r.get("name")
        fp32 = next((f for f in rows if (f.get("role") or f.get("name")) == model and f.get("backend") == r.get("backend")
                     and f.get("precision") == REFERENCE_PRECISION and f.get("latency_ms_p50")), None)
        if fp32 and r["latency_ms_p50"] >= fp32["latency_ms_p50"]:
            out.append({"model": model, "int8_ms": r["latency_ms_p50"], "fp32_ms": fp32["latency_ms_p50"]})
    return out


def deploy_lines(choices: Sequence[dict]) -> list[str]:
    """Short lines for under a table: per backend the artifact to deploy, and where INT8 lost to FP32."""
    if not choices:
        return []
    drop = choices[0]["max_top1_drop"]
    lines = [f"Deploy (per backend, the fastest artifact that is ok and within {drop:g} pt of the teacher's top-1):"]
    width = max(len(str(c["backend"])) for c in choices)
    for c in choices:
        if c["choice"] is None:
            lines.append(f"  {c['backend']:<{width}}  none meets the rule (reference: {c['reference']} {c['reference_top1']:.2f} %)")
            continue
        speed = f", {c['speedup_vs_teacher']:.2f}x the teacher" if c.get("speedup_vs_teacher") else ""
        lines.append(f"  {c['backend']:<{width}}  {c['choice']}: {c['top1']:.2f} % top-1, {c['latency_ms_p50']:.3f} ms{speed}")
    for c in choices:
        for s in c["int8_slower"]:
            lines.append(f"  INT8 is not faster than FP32 for {s['model']} on {c['backend']} on this CPU "
                         f"({s['int8_ms']:.3f} vs {s['fp32_ms']:.3f} ms).")
    return lines


def deploy_markdown(choices: Sequence[dict]) -> str:
    """The same as a markdown table with the files, for report.md."""
    if not choices:
        return "_no timed rows_\n"
    lines = ["| backend | deploy | top-1 % | p50 ms | x teacher | file |", "|---|---|---|---|---|---|"]
    for c in choices:
        fmt = lambda v, f: "-" if v is None else f.format(v)  # noqa: E731
        lines.append(f"| {c['backend']} | {c['choice'] or 'none meets the rule'} | {fmt(c['top1'], '{:.2f}')} | "
                     f"{fmt(c['latency_ms_p50'], '{:.3f}')} | {fmt(c.get('speedup_vs_teacher'), '{:.2f}')} | "
                     f"{c['path'] or '-'} |")
    notes = [f"- INT8 is not faster than FP32 for {s['model']} on {c['backend']} on this CPU ({s['int8_ms']:.3f} vs "
             f"{s['fp32_ms']:.3f} ms)." for c in choices for s in c["int8_slower"]]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"
