"""What to deploy per backend: the fastest row that is `ok` and within the top-1 drop of the teacher there;
INT8 that is no faster than FP32 on this CPU is named as such."""
from __future__ import annotations

from edgecv.bench.deploy import deploy_choices, deploy_lines, deploy_markdown


def row(role, backend, precision, top1, p50, status="ok", **kw):
    return {"role": role, "name": f"net-{role}", "backend": backend, "precision": precision, "top1": top1,
            "latency_ms_p50": p50, "status": status, "batch": 1, "path": f"/runs/{role}-{precision}.{backend}", **kw}


ROWS = [
    row("teacher", "torch", "fp32", 97.0, 1.9),
    row("teacher", "onnxruntime", "fp32", 97.0, 0.26),
    row("teacher", "tflite", "fp32", 97.0, 0.27),
    row("student", "onnxruntime", "fp32", 96.9, 0.06),
    row("pruned", "onnxruntime", "fp32", 96.4, 0.045),
    row("pruned", "onnxruntime", "int8", 96.2, 0.040, status="inaccurate"),  # below the INT8 agreement minimum
    row("student", "tflite", "fp32", 96.9, 0.07),
    row("pruned", "tflite", "fp32", 96.5, 0.061),
    row("pruned", "tflite", "int8", 96.4, 0.096),  # XNNPACK INT8 slower than FP32 (x86 without VNNI)
    row("pruned", "torch", "fp32", 95.5, 0.35),  # 1.5 pt below the teacher: outside the rule
    {"role": "pruned", "backend": "onnxruntime", "precision": "fp32", "kind": "prune_step", "top1": 99.0,
     "latency_ms_p50": 0.001, "status": "ok"},  # a pruning log row, never an artifact
]


def test_fastest_within_the_rule_per_backend():
    by = {c["backend"]: c for c in deploy_choices(ROWS, max_top1_drop=1.0)}
    assert list(by) == ["torch", "onnxruntime", "tflite"]
    assert by["onnxruntime"]["choice"] == "pruned fp32"  # its INT8 is faster but inaccurate
    assert by["onnxruntime"]["path"] == "/runs/pruned-fp32.onnxruntime" and by["onnxruntime"]["reference"] == "teacher fp32"
    assert by["tflite"]["choice"] == "pruned fp32"  # INT8 slower here
    assert by["tflite"]["int8_slower"] == [{"model": "pruned", "int8_ms": 0.096, "fp32_ms": 0.061}]
    assert by["torch"]["choice"] == "teacher fp32"  # the pruned one is 1.5 pt below the teacher
    assert deploy_choices(ROWS, max_top1_drop=2.0)[0]["choice"] == "pruned fp32"


def test_int8_wins_where_it_is_faster_and_accurate():
    rows = ROWS[:5] + [row("pruned", "onnxruntime", "int8", 96.2, 0.030)]
    by = {c["backend"]: c for c in deploy_choices(rows)}
    assert by["onnxruntime"]["choice"] == "pruned int8" and by["onnxruntime"]["int8_slower"] == []


def test_no_row_meets_the_rule():
    rows = [row("teacher", "tflite", "fp32", 97.0, 0.27, status="inaccurate")]
    only, = deploy_choices(rows)
    assert only["choice"] is None and "none meets the rule" in deploy_lines([only])[1]


def test_lines_and_markdown():
    lines = deploy_lines(deploy_choices(ROWS))
    assert lines[0].startswith("Deploy (per backend, the fastest artifact that is ok and within 1 pt")
    assert "  onnxruntime  pruned fp32: 96.40 % top-1, 0.045 ms" in lines
    assert lines[-1] == "  INT8 is not faster than FP32 for pruned on tflite on this CPU (0.096 vs 0.061 ms)."
    assert all(len(line) <= 100 for line in lines)
    md = deploy_markdown(deploy_choices(ROWS))
    assert "| tflite | pruned fp32 | 96.50 | 0.061 | - | /runs/pruned-fp32.tflite |" in md
    assert deploy_choices([]) == [] and deploy_lines([]) == []
