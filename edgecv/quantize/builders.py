"""Builders the `onnxruntime` backend can register for its `int8` and `fp16` precisions:

    BUILDERS.update(int8=build_int8, fp16=build_fp16)   # fn(model, sample, calibration, out_dir) -> Artifact

Each exports FP32 ONNX first (the backend's own fp32 builder), then quantizes it with the defaults
of QuantizeSpec (per-channel INT8 QDQ, min-max calibration) or converts it to FP16.
"""
from __future__ import annotations

from pathlib import Path

from ..backends.base import Artifact


def _fp32(model, sample, out_dir: Path) -> Artifact:
    from ..backends.onnxruntime_backend import BUILDERS

    return BUILDERS["fp32"](model, sample, None, Path(out_dir))


def build_int8(model, sample, calibration, out_dir: Path, spec=None) -> Artifact:
    from .api import quantize_onnx

    fp32 = _fp32(model, sample, out_dir)
    out = Path(out_dir) / f"{fp32.metadata.source_model}-int8.onnx"
    return quantize_onnx(fp32.path, out, "int8", calibration, spec=spec).artifact


def build_fp16(model, sample, calibration, out_dir: Path) -> Artifact:
    from .api import quantize_onnx

    fp32 = _fp32(model, sample, out_dir)
    out = Path(out_dir) / f"{fp32.metadata.source_model}-fp16.onnx"
    return quantize_onnx(fp32.path, out, "fp16").artifact
