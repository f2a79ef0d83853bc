"""Post-training INT8 quantization of ONNX models with ONNX Runtime's tools (QDQ format).

QDQ (QuantizeLinear/DequantizeLinear around float ops) is what ONNX Runtime's CPU kernels fuse into
integer ops and what TensorRT consumes as explicit quantization. Activation ranges are calibrated
once per method and cached, so re-quantizing with other nodes excluded (the budget loop) is cheap.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..data.calibration import array_reader
from .spec import QuantizeSpec

ORT_METHODS = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}
TOOLS = ("onnx", "onnxruntime")


class CalibrationError(ValueError):
    """The calibration data cannot calibrate this model (missing, empty, or the wrong shape)."""


def onnx_input(path: str | Path) -> tuple[str, list]:
    """(name, shape) of the model's single image input; symbolic dims are strings."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    inits = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise ValueError(f"{path}: expected one image input, found {len(inputs)}")
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in inputs[0].type.tensor_type.shape.dim]
    return inputs[0].name, dims


def calibration_images(calibration, expected_shape: Sequence, what: str, limit: int | None = None) -> np.ndarray:
    """All calibration images as one NCHW float32 array, checked against the model's input shape.

    `calibration` is duck-typed: an edgecv CalibrationSource or any iterable of NCHW float32 batches.
    """
    if calibration is None:
        raise CalibrationError(f"INT8 quantization of {what} needs calibration images (--calib-data DIR, or a recipe's data)")
    try:
        batches = [np.asarray(b, dtype=np.float32) for b in calibration]
    except TypeError:
        raise CalibrationError(f"calibration source {type(calibration).__name__} is not iterable over NCHW batches") from None
    batches = [b for b in batches if b.size]
    if not batches:
        raise CalibrationError(f"calibration set for {what} is empty: point it at a folder that holds images")
    bad = [b.shape for b in batches if b.ndim != 4]
    if bad:
        raise CalibrationError(f"calibration batches must be NCHW (4-D); got shape {bad[0]}")
    images = np.concatenate(batches)[:limit] if limit else np.concatenate(batches)
    got, want = images.shape[1:], list(expected_shape)[1:]
    if any(isinstance(e, int) and e > 0 and g != e for g, e in zip(got, want)):
        raise CalibrationError(f"calibration images have shape {tuple(got)} but {what} expects {tuple(want)} (C, H, W)")
    return np.ascontiguousarray(images)


@contextmanager
def quiet_ort_logging():
    """ONNX Runtime's quantizer logs advice at WARNING and prints progress; edgecv reports instead."""
    import contextlib
    import io

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the histogram calibrators print progress
            yield
    finally:
        root.setLevel(level)


def preprocess_model(src: str | Path, dst: str | Path, enabled: bool = True) -> Path:
    """ONNX Runtime's recommended pre-processing: symbolic + ONNX shape inference and graph optimisation."""
    import shutil

    dst = Path(dst)
    if not enabled:
        shutil.copyfile(src, dst)
        return dst
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        with quiet_ort_logging():
            quant_pre_process(str(src), str(dst))
    except Exception as e:  # a graph the optimiser cannot handle: quantize the model as exported
        logging.getLogger(__name__).info("quant_pre_process failed on %s (%s); quantizing it unprocessed", src, e)
        shutil.copyfile(src, dst)
    return dst


def quantize_qdq(prepared: str | Path, out_path: str | Path, spec: QuantizeSpec, cache_path: str | Path,
                 images: np.ndarray | None = None, nodes_to_exclude: Iterable[str] = (),
                 nodes_to_quantize: Iterable[str] | None = None) -> Path:
    """One QDQ quantization of `prepared`; calibrates into `cache_path` the first time, reuses it after."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    cache_path = Path(cache_path)
    reader = None
    if not cache_path.is_file():
        if images is None:
            raise CalibrationError("no calibration images and no calibration cache")
        name, _ = onnx_input(prepared)
        reader = array_reader(images, name)
    act = QuantType.QUInt8 if spec.activation_type == "uint8" else QuantType.QInt8
    extra = {"ActivationSymmetric": spec.activation_type == "int8", "WeightSymmetric": True}
    if spec.method == "percentile":
        extra["CalibPercentile"] = spec.percentile
    with quiet_ort_logging():
        quantize_static(
            str(prepared), str(out_path), reader, quant_format=QuantFormat.QDQ, per_channel=spec.per_channel,
            reduce_range=spec.reduce_range, activation_type=act, weight_type=QuantType.QInt8,
            nodes_to_exclude=list(nodes_to_exclude), nodes_to_quantize=list(nodes_to_quantize or []),
            calibrate_method=getattr(CalibrationMethod, ORT_METHODS[spec.method]), extra_options=extra,
            calibration_cache_path=str(cache_path),
        )
    return Path(out_path)


def quantized_nodes(qdq_path: str | Path) -> list[str]:
    """Names of the nodes that run in INT8, in graph order: every float input comes from a
    DequantizeLinear and every output feeds only QuantizeLinear (a node left in FP32 may still read
    dequantized inputs, but its output is not re-quantized and its weights stay float)."""
    import onnx

    graph = onnx.load(str(qdq_path)).graph
    dq_out = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    non_float = {t.name for t in graph.initializer if t.data_type != onnx.TensorProto.FLOAT}
    consumers: dict[str, list[str]] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n.op_type)
    graph_outputs = {o.name for o in graph.output}
    out = []
    for n in graph.node:
        if n.op_type in ("QuantizeLinear", "DequantizeLinear"):
            continue
        ins = [i for i in n.input if i and i not in non_float]
        outs_q = all(o not in graph_outputs and consumers.get(o) and set(consumers[o]) == {"QuantizeLinear"} for o in n.output)
        if ins and all(i in dq_out for i in ins) and outs_q:
            out.append(n.name)
    return out


def int8_node_count(qdq_path: str | Path) -> int:
    return len(quantized_nodes(qdq_path))
