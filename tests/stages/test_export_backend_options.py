"""The export stage's per-backend `options`: a recipe builds torch artifacts that run another way (here bf16,
channels-last on the CPU; `device: cuda` on a GPU) and the benchmark stage runs them as built, judged
against the in-memory FP32 model."""
from __future__ import annotations

import json

import pytest

import edgecv
from edgecv.recipe import RecipeError, validate_recipe


def _recipe(stages):
    return {
        "name": "options-test", "seed": 0, "device": "cpu",
        "data": {"source": "digits", "image_size": 32, "max_train": 60, "max_val": 40, "workers": 0},
        "student": {"name": "cifar_resnet20"},
        "stages": stages,
    }


def test_torch_options_reach_the_artifacts_and_the_benchmark(tmp_path):
    raw = _recipe([
        {"type": "export", "to": ["torch"], "precision": ["fp32", "bf16"], "options": {"torch": {"channels_last": True}}},
        {"type": "benchmark", "batch": [1], "threads": 1, "warmup": 1, "min_runs": 3, "min_time_s": 0, "torch_reference": False},
    ])
    ctx = edgecv.run(validate_recipe(raw), out_dir=tmp_path / "run")
    assert [(a["backend"], a["precision"], a["status"]) for a in ctx.artifacts] == [("torch", "fp32", "ok"), ("torch", "bf16", "ok")]
    for a in ctx.artifacts:
        rt = json.loads(open(a["path"] + ".edgecv.json").read())["extra"]["torch_runtime"]
        assert rt["channels_last"] is True and rt["precision"] == a["precision"] and rt["device"] == "cpu"
    rows = {r["precision"]: r for r in ctx.results if r.get("batch") == 1 and r.get("latency_ms_p50") is not None}
    assert set(rows) == {"fp32", "bf16"}
    for r in rows.values():
        assert r["status"] == "ok" and r["parity_on"] == "val" and r["images"] == 40 and r["device"] == "cpu"
    assert rows["fp32"]["max_abs_diff"] < 1e-3 and rows["bf16"]["max_abs_diff"] > 0  # bf16 really ran in bf16


def test_options_for_an_unknown_backend_are_a_recipe_error():
    with pytest.raises(RecipeError, match="did you mean"):
        validate_recipe(_recipe([{"type": "export", "to": ["torch"], "options": {"torhc": {"device": "cuda"}}}]))


def test_a_bad_option_value_fails_that_artifact_only(tmp_path):
    raw = _recipe([{"type": "export", "to": ["torch", "onnx"], "options": {"torch": {"device": "tpu"}}}])
    ctx = edgecv.run(validate_recipe(raw), out_dir=tmp_path / "run")
    by = {a["backend"]: a for a in ctx.artifacts}
    assert by["torch"]["status"] == "export_failed" and "device must be cpu, cuda or cuda:N" in by["torch"]["error"]
    assert by["onnxruntime"]["status"] == "ok"


def test_a_recipe_budget_drives_openvinos_accuracy_controlled_int8(tmp_path):
    """`options: {openvino: {max_drop: ...}}`: NNCF's accuracy-controlled quantization, judged on labelled
    training images calibration did not use; the FP32 build of the same stage ignores the INT8-only option."""
    from edgecv.backends import BACKENDS

    ok, why = BACKENDS.get("openvino").available()
    if not ok:
        pytest.skip(why)
    raw = _recipe([{"type": "export", "to": ["openvino"], "precision": ["fp32", "int8"], "calib_size": 16,
                    "options": {"openvino": {"max_drop": 2.0, "accuracy_images": 40}}}])
    raw["student"] = {"name": "cifar_resnet8"}
    ctx = edgecv.run(validate_recipe(raw), out_dir=tmp_path / "run")
    by = {a["precision"]: a for a in ctx.artifacts}
    assert by["fp32"]["status"] == "ok" and by["int8"]["status"] == "ok", by
    q = json.loads(open(by["int8"]["path"] + ".edgecv.json").read())["extra"]["quantization"]
    assert q["budget_metric"] == "top1" and q["max_drop"] == 2.0 and q["accuracy_images"] == 40
    assert q["calibration_images"] == 16 and q["met"] == (q["drop"] <= 2.0)
