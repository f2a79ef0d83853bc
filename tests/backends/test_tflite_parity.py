"""TFLite agrees with PyTorch on the shared CIFAR-10 val images (all 5,000): FP32 >= 99.5 %, INT8 >= 98.5 %.

The ResNet-20 teacher's check lives in test_tflite.py (it reuses the artifacts built there). A
distilled student is checked when EDGECV_TFLITE_STUDENT names its edgecv model file (e.g. the one
`benchmarks/tflite_vs_onnxruntime.py` distils), since training one does not fit the test budget.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("litert_torch", reason="tflite extra not installed: pip install 'edgecv[tflite]'")

from tests.conftest import need_shared  # noqa: E402

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
THRESHOLDS = {"fp32": 0.995, "int8": 0.985}  # the parity bars


def val_images_all() -> np.ndarray:
    from edgecv.data import CalibrationSource

    val = CalibrationSource.from_folder(need_shared("cifar10", "val"), 32, MEAN, STD, size=5000, batch_size=500)
    x = np.concatenate(val.batches())
    assert len(x) == 5000
    return x


def agreement(model, x: np.ndarray, artifacts: dict) -> dict[str, float]:
    """Fraction of images whose TFLite top-1 equals PyTorch's, per precision."""
    import torch

    from edgecv.backends import BACKENDS

    with torch.no_grad():
        ref = np.concatenate([model(torch.from_numpy(x[i : i + 500])).numpy() for i in range(0, len(x), 500)]).argmax(1)
    b = BACKENDS.get("tflite")
    return {p: float((b.load(a, threads=2)(x).argmax(1) == ref).mean()) for p, a in artifacts.items()}


@pytest.mark.skipif(not os.environ.get("EDGECV_TFLITE_STUDENT"), reason="set EDGECV_TFLITE_STUDENT=<distilled student .pt>")
def test_distilled_student_parity(tmp_path):
    import torch

    from edgecv.backends import BACKENDS
    from edgecv.data import CalibrationSource
    from edgecv.models import load_model

    model, _ = load_model(os.environ["EDGECV_TFLITE_STUDENT"])
    model.eval()
    cal = CalibrationSource.from_folder(need_shared("cifar10", "train"), 32, MEAN, STD, size=128)
    b = BACKENDS.get("tflite")
    arts = {p: b.build(model, torch.zeros(1, 3, 32, 32), p, cal, tmp_path) for p in THRESHOLDS}
    got = agreement(model, val_images_all(), arts)
    for precision, bar in THRESHOLDS.items():
        assert got[precision] >= bar, f"student {precision}: {got[precision]:.4f} < {bar}"
