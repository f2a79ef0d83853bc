"""The `quantize` stage in a recipe: INT8 PTQ and FP16 of the student, QAT with KD from the run's teacher
(a few steps), all exported as ONNX artifacts the benchmark stage picks up, plus precision advice."""
from __future__ import annotations

import numpy as np

from tests.conftest import need_shared


def test_recipe_quantizes_runs_qat_and_advises(tmp_path):
    import onnx

    from edgecv.backends import Artifact
    from edgecv.pipeline import run_recipe
    from edgecv.quantize.measure import logits
    from edgecv.recipe import validate_recipe

    recipe = validate_recipe({
        "name": "quantize-test", "device": "cpu",
        "data": {"source": "imagefolder", "root": str(need_shared("cifar10")), "image_size": 32, "max_train": 64,
                 "max_val": 100, "batch_size": 16, "workers": 0,
                 "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
        "teacher": {"name": "cifar_resnet56", "checkpoint": str(need_shared("teachers", "resnet56-4bfd9763.th"))},
        "student": {"name": "cifar_resnet20", "checkpoint": str(need_shared("teachers", "resnet20-12fca82f.th"))},
        "stages": [{"type": "quantize", "precision": ["int8", "fp16"], "calib_size": 32, "budget": 3.0, "threads": 1,
                    "qat": {"mode": "always", "epochs": 1, "max_steps_per_epoch": 2}}],
    })
    ctx = run_recipe(recipe, out_dir=tmp_path / "run")
    record = ctx.records[-1]
    int8 = next(r for r in record["quantized"] if r["precision"] == "int8")
    assert int8["budget_met"] and int8["calib_images"] == 32
    qat = int8["qat"]
    assert qat["teacher"] == "teacher" and qat["epochs"] == 1
    proto = onnx.load(qat["path"])
    assert {"QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in proto.graph.node}
    art = Artifact.from_path(qat["path"])
    assert art.precision == "int8" and art.metadata.extra["quantization"]["method"] == "qat"
    x = np.stack([ctx.data.val[i][0].numpy() for i in range(8)])
    assert logits(qat["path"], x).shape == (8, 10)  # ONNX Runtime runs the QAT export, dynamic batch
    assert qat["top1"] > 50  # a few KD steps from the pretrained weights keep it a working classifier

    precisions = sorted((a["name"], a["precision"]) for a in ctx.artifacts)
    assert precisions == [("cifar_resnet20", "fp16"), ("cifar_resnet20", "fp32"), ("cifar_resnet20", "int8"),
                          ("cifar_resnet20-qat", "int8")]
    advice, = record["advice"]
    assert advice["backend"] == "onnxruntime" and advice["advice"] in ("fp32", "int8", "fp16")
    report = (tmp_path / "run" / "stages" / "0_quantize" / "report.md").read_text()
    assert "precision advice" in report and "QAT with KD" in report
    assert {r["precision"] for r in ctx.results} == {"fp32", "int8", "fp16"}
