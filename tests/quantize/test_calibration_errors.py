"""An empty or mismatched calibration set is a clear error, never a silently broken model."""
from __future__ import annotations

import numpy as np
import pytest

from edgecv.quantize import CalibrationError, quantize_onnx


def test_no_calibration_data(onnx20, tmp_path):
    with pytest.raises(CalibrationError, match="needs calibration images"):
        quantize_onnx(onnx20.path, tmp_path / "x.onnx", "int8", None)


def test_empty_calibration_iterable(onnx20, tmp_path):
    with pytest.raises(CalibrationError, match="empty"):
        quantize_onnx(onnx20.path, tmp_path / "x.onnx", "int8", [])


def test_empty_calibration_folder(tmp_path):
    from edgecv.data import CalibrationSource

    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no images"):
        CalibrationSource.from_folder(tmp_path / "empty", 32, [0.5] * 3, [0.5] * 3)


def test_mismatched_image_size(onnx20, tmp_path):
    batches = [np.zeros((4, 3, 64, 64), np.float32)]
    with pytest.raises(CalibrationError, match=r"\(3, 64, 64\).*\(3, 32, 32\)"):
        quantize_onnx(onnx20.path, tmp_path / "x.onnx", "int8", batches)
    assert not (tmp_path / "x.onnx").exists()


def test_not_nchw(onnx20, tmp_path):
    with pytest.raises(CalibrationError, match="NCHW"):
        quantize_onnx(onnx20.path, tmp_path / "x.onnx", "int8", [np.zeros((3, 32, 32), np.float32)])


def test_a_plain_iterable_of_batches_calibrates(onnx20, calib, tmp_path):
    """The calibration source is duck-typed: any iterable of NCHW float32 batches works."""
    batches = [b for b in calib][:2]
    res = quantize_onnx(onnx20.path, tmp_path / "plain.onnx", "int8", batches)
    assert res.report["calib_images"] == sum(len(b) for b in batches)
