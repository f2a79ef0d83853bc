"""Markdown for quantization reports: the budget loop's steps and a per-artifact summary."""
from __future__ import annotations

from typing import Sequence


def steps_markdown(steps: Sequence[dict]) -> str:
    """One line per model tried by the budget loop: nodes kept in FP32, top-1, drop, latency and its cost."""
    if not steps:
        return ""
    from ..utils.tables import markdown_table

    def row(s: dict) -> list[str]:
        cost = s.get("latency_cost_ms")
        return [s["step"], "-" if s.get("fp32_nodes") is None else s["fp32_nodes"], ", ".join(s.get("added") or []) or "-",
                f"{s['top1']:.2f}", f"{s['drop']:.2f}", _pct(s.get("agreement")), "yes" if s["met"] else "no",
                f"{s['latency_ms_p50']:.3f}", "-" if cost is None else f"{cost:+.3f}"]

    return markdown_table(["step", "nodes in FP32", "added this step", "top-1 %", "drop pt", "agreement %",
                           "within budget", "p50 ms", "latency cost ms"], map(row, steps))


def summary_line(report: dict) -> str:
    """One sentence: what was built and how it compares with FP32."""
    parts = [report.get("precision", "?").upper()]
    if report.get("method"):
        parts.append(f"{report['method']} calibration on {report.get('calib_images')} images")
    if report.get("weights"):
        safe = {"safe": "safe", "saturates": "saturates"}.get(report.get("x86_without_vnni"), "?")
        parts.append(f"{report['weights']} for target {report.get('target')} ({safe} on x86 without VNNI)")
    if report.get("top1") is not None and report.get("fp32_top1") is not None:
        parts.append(f"top-1 {report['top1']:.2f}% vs FP32 {report['fp32_top1']:.2f}% ({-report['drop']:+.2f} pt)")
    if report.get("keep_fp32"):
        parts.append("kept in FP32 by rule: " + ", ".join(f"{k} ({len(v)} node(s))" for k, v in report["keep_fp32"].items()))
    if report.get("agreement") is not None:
        parts.append(f"{report['agreement']:.2f}% agreement with FP32")
    need = [f"{report['budget']} pt"] if report.get("budget") is not None else []
    need += [f">= {report['min_agreement']}% agreement"] if report.get("min_agreement") is not None else []
    if need:
        parts.append(f"budget {' and '.join(need)} {'met' if report.get('budget_met') else 'NOT met'}")
    kept = report.get("kept_fp32") or []
    if kept:
        parts.append(f"{len(kept)} node(s) kept in FP32: {', '.join(kept)}")
    return "; ".join(parts)


def _pct(value) -> str:
    return "-" if value is None else f"{value:.2f}"
