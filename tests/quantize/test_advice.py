"""Precision advice picks the fastest precision within the budget per model and backend, from measured
rows only (INT8 is not assumed to win), for any backend in the ledger."""
from __future__ import annotations

from edgecv.quantize.advice import advice_markdown, precision_advice


def _row(model, backend, precision, top1, ms, **kw):
    return {"name": model, "source_model": model, "backend": backend, "precision": precision, "top1": top1,
            "latency_ms_p50": ms, "batch": 1, "status": "ok", **kw}


def test_int8_slower_than_fp32_is_not_advised():
    rows = [_row("mnv3", "onnxruntime", "fp32", 70.0, 1.0), _row("mnv3", "onnxruntime", "int8", 69.9, 2.0)]
    a, = precision_advice(rows, budget=0.5)
    assert a["advice"] == "fp32" and "slower than FP32" in a["note"]


def test_fastest_within_budget_per_backend():
    rows = [
        _row("r50", "onnxruntime", "fp32", 80.0, 30.0), _row("r50", "onnxruntime", "int8", 79.8, 10.0),
        _row("r50", "onnxruntime", "fp16", 80.0, 45.0),
        _row("r50", "tflite", "fp32", 80.0, 40.0), _row("r50", "tflite", "int8", 78.0, 12.0),
        _row("r50", "tflite", "fp16", 79.9, 35.0), _row("r50", "torch", "fp32", 80.0, 50.0, batch=8),
    ]
    advice = {a["backend"]: a for a in precision_advice(rows, budget=0.5)}
    assert advice["onnxruntime"]["advice"] == "int8" and advice["onnxruntime"]["speedup"] == 3.0
    assert advice["tflite"]["advice"] == "fp16"  # int8 is faster but 2 points over budget
    assert "torch" not in advice  # its only row is at another batch size
    assert "| r50 | tflite | fp16" in advice_markdown(list(advice.values()))


def test_torch_row_is_the_reference_when_a_backend_has_no_fp32():
    rows = [_row("s", "torch", "fp32", 90.0, 5.0), _row("s", "tensorrt", "int8", 89.0, 1.0),
            _row("s", "tensorrt", "fp16", 89.9, 1.5)]
    by = {a["backend"]: a for a in precision_advice(rows, budget=0.5)}
    assert by["tensorrt"]["advice"] == "fp16" and by["tensorrt"]["fp32_top1"] == 90.0


def test_nothing_within_budget_and_failed_rows_ignored():
    rows = [_row("s", "onnxruntime", "fp32", 90.0, 5.0), _row("s", "onnxruntime", "int8", 80.0, 1.0),
            _row("s", "onnxruntime", "fp16", None, 1.0, status="export_failed")]
    a, = precision_advice(rows, budget=0.0)
    assert a["advice"] == "fp32" and [o["precision"] for o in a["options"]] == ["int8", "fp32"]
    rows[0]["top1"] = 95.0
    rows.pop(0)
    assert precision_advice(rows, budget=0.0) == []  # no FP32 reference: no advice
