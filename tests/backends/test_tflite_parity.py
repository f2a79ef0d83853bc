"""TFLite agrees with PyTorch on the shared CIFAR-10 val images (all 5,000): FP32 >= 99.5 %, INT8 >= 98.5 %.

The ResNet-20 teacher's check lives in test_tflite.py (it reuses the artifacts built there). The
distilled student is EDGECV_TFLITE_STUDENT (an edgecv model file, e.g. the CIFAR benchmark's) when set;
otherwise the test distils one itself within the test budget: a ResNet-20-sized student KD-fine-tuned
from the ResNet-56 teacher for a few dozen steps with the shared training loop.
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


def distilled_student():
    """A student distilled from the ResNet-56 teacher: ResNet-20 weights, then 40 KD steps."""
    import torch

    from edgecv.data import DataSpec, build_data
    from edgecv.data.loaders import make_loader
    from edgecv.distill import build_distiller
    from edgecv.models import create_model, data_config
    from edgecv.train.loop import fit
    from edgecv.train.spec import TrainSpec

    teacher = create_model("cifar_resnet56", checkpoint=need_shared("teachers", "resnet56-4bfd9763.th"))
    student = create_model("cifar_resnet20", checkpoint=need_shared("teachers", "resnet20-12fca82f.th"))
    data = build_data(DataSpec(source="imagefolder", root=str(need_shared("cifar10")), max_train=2560, max_val=100),
                      data_config(student), seed=0)
    torch.manual_seed(0)
    task = build_distiller(student, [teacher], [{"name": "kd"}], data.train[0][0][None])
    fit(task, student, make_loader(data.train, 64, True), make_loader(data.val, 100, False),
        TrainSpec(epochs=1, lr=0.01, max_steps_per_epoch=40))
    return student


def test_distilled_student_parity(tmp_path):
    import torch

    from edgecv.backends import BACKENDS
    from edgecv.data import CalibrationSource
    from edgecv.models import load_model_file as load_model

    if os.environ.get("EDGECV_TFLITE_STUDENT"):
        model, _ = load_model(os.environ["EDGECV_TFLITE_STUDENT"])
    else:
        model = distilled_student()
    model.eval()
    cal = CalibrationSource.from_folder(need_shared("cifar10", "train"), 32, MEAN, STD, size=128)
    b = BACKENDS.get("tflite")
    arts = {p: b.build(model, torch.zeros(1, 3, 32, 32), p, cal, tmp_path) for p in THRESHOLDS}
    got = agreement(model, val_images_all(), arts)
    for precision, bar in THRESHOLDS.items():
        assert got[precision] >= bar, f"student {precision}: {got[precision]:.4f} < {bar}"
