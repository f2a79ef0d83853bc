"""Fixtures for the quantization tests: the CIFAR ResNet-20 teacher as FP32 ONNX, calibration images
from the train split, and 1000 stratified images of the shared val split (100 per class)."""
from __future__ import annotations

import pytest

from tests.bench.conftest import onnx20, teacher20  # noqa: F401  (shared fixtures)
from tests.conftest import need_shared

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
VAL_IMAGES = 1000  # of the 5000 shared val images: the full set is the benchmark's job (2 shared CPU cores)


@pytest.fixture(scope="session")
def calib():
    from edgecv.data import CalibrationSource

    return CalibrationSource.from_folder(need_shared("cifar10", "train"), 32, MEAN, STD, size=128)


@pytest.fixture(scope="session")
def val1000():
    from edgecv.bench import EvalSet
    from edgecv.data.subset import stratified_subset

    ev = EvalSet.from_folder(need_shared("cifar10", "val"), 32, MEAN, STD, batch_size=250)
    ev.dataset = stratified_subset(ev.dataset, VAL_IMAGES, 0)
    return ev


@pytest.fixture(scope="session")
def val_arrays(val1000):
    import numpy as np

    xs, ys = zip(*val1000.batches())
    return np.concatenate(xs), np.concatenate(ys)


@pytest.fixture(scope="session")
def fp32_preds(onnx20, val_arrays):  # noqa: F811
    from edgecv.quantize.measure import logits

    return logits(onnx20.path, val_arrays[0]).argmax(1)
