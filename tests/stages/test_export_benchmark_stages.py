"""A recipe with `export` and `benchmark` stages: artifacts, torch reference rows, one ledger."""
from __future__ import annotations

import re

import json

import pytest

import edgecv
from edgecv.recipe import RecipeError, validate_recipe


def _recipe(stages):
    return {
        "name": "bench-test", "seed": 0, "device": "cpu",
        "data": {"source": "digits", "image_size": 32, "max_train": 60, "max_val": 40, "workers": 0},
        "student": {"name": "cifar_resnet20"},
        "stages": stages,
    }


def test_export_then_benchmark_fills_the_ledger(tmp_path):
    raw = _recipe([
        {"type": "export", "to": ["onnx"]},
        {"type": "benchmark", "batch": [1, 2], "threads": 1, "warmup": 1, "min_runs": 3, "min_time_s": 0},
    ])
    ctx = edgecv.run(validate_recipe(raw), out_dir=tmp_path / "run")
    (art,) = ctx.artifacts
    assert art["status"] == "ok" and art["backend"] == "onnxruntime" and art["role"] == "student"
    meta = json.loads(open(art["path"] + ".edgecv.json").read())
    assert meta["class_names"] == [str(i) for i in range(10)] and meta["input_shape"] == ["batch", 3, 32, 32]
    rows = [r for r in ctx.results if r.get("batch") in (1, 2) and r.get("latency_ms_p90") is not None]
    assert {(r["backend"], r["batch"]) for r in rows} == {("torch", 1), ("torch", 2), ("onnxruntime", 1), ("onnxruntime", 2)}
    ort_row = next(r for r in rows if r["backend"] == "onnxruntime")
    torch_row = next(r for r in rows if r["backend"] == "torch")
    assert ort_row["status"] == "ok" and ort_row["agreement"] == 100.0 and ort_row["images"] == 40
    assert ort_row["top1"] == torch_row["top1"] and torch_row["agreement"] is None  # torch is the reference
    stage_dir = tmp_path / "run" / "stages" / "1_benchmark"
    ledger = json.loads((stage_dir / "results.json").read_text())
    assert len(ledger["rows"]) == 4 and ledger["environment"]["threads"] == 1
    assert (stage_dir / "pareto.png").is_file() and re.search(r"\| cifar_resnet20 \|[^\n]*\| onnxruntime \|", (stage_dir / "report.md").read_text())


def test_unknown_export_target_is_a_recipe_error():
    with pytest.raises(RecipeError, match="did you mean"):
        validate_recipe(_recipe([{"type": "export", "to": ["onnxx"]}]))


def test_edgecv_run_benchmarks_four_runtimes_into_one_ledger(tmp_path):
    """`edgecv run` of a recipe exporting to [onnx, tflite, openvino, executorch] in FP32 and INT8: every
    runtime's rows, beside the torch reference, in the benchmark stage's one ledger."""
    import yaml

    from edgecv.backends import BACKENDS
    from edgecv.cli import main

    missing = {b: BACKENDS.get(b).available()[1] for b in ("tflite", "openvino", "executorch") if not BACKENDS.get(b).available()[0]}
    if missing:
        pytest.skip(f"backends not available here: {missing}")
    raw = _recipe([
        {"type": "export", "to": ["onnx", "tflite", "openvino", "executorch"], "precision": ["fp32", "int8"], "calib_size": 16},
        {"type": "benchmark", "batch": [1], "threads": 1, "warmup": 1, "min_runs": 3, "min_time_s": 0},
    ])
    raw["student"] = {"name": "cifar_resnet8"}
    recipe = tmp_path / "runtimes.yaml"
    recipe.write_text(yaml.safe_dump(raw))
    assert main(["run", str(recipe), "--out", str(tmp_path / "run")]) == 0

    stage_dir = tmp_path / "run" / "stages" / "1_benchmark"
    rows = json.loads((stage_dir / "results.json").read_text())["rows"]
    runtimes = ("onnxruntime", "tflite", "openvino", "executorch")
    assert {(r["backend"], r["precision"]) for r in rows} == {("torch", "fp32"), *((b, p) for b in runtimes for p in ("fp32", "int8"))}
    for r in rows:
        assert r["status"] in ("ok", "inaccurate") and r["latency_ms_p50"] > 0 and r["images"] == 40, r
        if r["precision"] == "fp32" and r["backend"] != "torch":
            assert r["status"] == "ok" and r["agreement"] == 100.0, r
    report = (stage_dir / "report.md").read_text()
    assert all(re.search(rf"\| {b} \|", report) for b in runtimes)
