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

from ..backends.onnx_file import onnx_input
from ..data.calibration import array_reader
from .spec import QuantizeSpec

ORT_METHODS = {"robust_minmax": "MinMax", "minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}
TOOLS = ("onnx", "onnxruntime")


class CalibrationError(ValueError):
    """The calibration data cannot calibrate this model (missing, empty, or the wrong shape)."""


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
    """ONNX Runtime's recommended pre-processing: symbolic + ONNX shape inference and graph optimisation.
    Every node leaves with a unique name (see `name_nodes`)."""
    import shutil

    dst = Path(dst)
    if not enabled:
        shutil.copyfile(src, dst)
        return name_nodes(dst)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        with quiet_ort_logging():
            quant_pre_process(str(src), str(dst))
    except Exception as e:  # a graph the optimiser cannot handle: quantize the model as exported
        logging.getLogger(__name__).info("quant_pre_process failed on %s (%s); quantizing it unprocessed", src, e)
        shutil.copyfile(src, dst)
    return name_nodes(dst)


def name_nodes(path: str | Path) -> Path:
    """Give every unnamed node a unique name, in place: `<op type>:<first output>`.

    ONNX Runtime's pre-processing inlines function ops (HardSwish becomes HardSigmoid + Mul) into nodes
    with empty names, and its quantizer selects nodes by name: without this, every such node would be
    the one node '' to the budget loop, to `nodes_to_exclude` and to `keep_fp32`."""
    import onnx

    model = onnx.load(str(path))
    taken = {n.name for n in model.graph.node if n.name}
    renamed = 0
    for i, n in enumerate(model.graph.node):
        if n.name:
            continue
        name = f"{n.op_type}:{n.output[0] if n.output else i}"
        while name in taken:
            name += "'"
        n.name = name
        taken.add(name)
        renamed += 1
    if renamed:
        onnx.save(model, str(path))
    return Path(path)


def fp32_nodes(prepared: str | Path, keep_fp32: Sequence[str]) -> dict[str, list[str]]:
    """{keep_fp32 entry: names of the nodes of `prepared` it keeps in FP32} (see edgecv.quantize.select)."""
    if not keep_fp32:
        return {}
    import onnx

    from .select import select_nodes

    return select_nodes(onnx.load(str(prepared), load_external_data=False).graph, keep_fp32)


def quantize_qdq(prepared: str | Path, out_path: str | Path, spec: QuantizeSpec, cache_path: str | Path,
                 images: np.ndarray | None = None, nodes_to_exclude: Iterable[str] = (),
                 nodes_to_quantize: Iterable[str] | None = None) -> Path:
    """One QDQ quantization of `prepared`; calibrates into `cache_path` the first time, reuses it after.
    The nodes `spec.keep_fp32` names stay in FP32 along with `nodes_to_exclude`."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    cache_path = Path(cache_path)
    reader = None
    if not cache_path.is_file():
        if images is None:
            raise CalibrationError("no calibration images and no calibration cache")
        if spec.method == "robust_minmax":  # edgecv's own ranges, in the cache ONNX Runtime reads them from
            write_ranges(robust_minmax_ranges(prepared, images, spec.image_percentile, spec.calib_batch, spec.threads),
                         cache_path)
        else:
            name, _ = onnx_input(prepared)
            reader = array_reader(images, name)
    act = QuantType.QUInt8 if spec.activation_type == "uint8" else QuantType.QInt8
    weights = QuantType.QUInt8 if spec.weight_type == "uint8" else QuantType.QInt8
    extra = {"ActivationSymmetric": spec.activation_type == "int8", "WeightSymmetric": True}
    if spec.method == "percentile":
        extra["CalibPercentile"] = spec.percentile
    kept = [n for names in fp32_nodes(prepared, spec.keep_fp32).values() for n in names]
    with quiet_ort_logging():
        quantize_static(
            str(prepared), str(out_path), reader, quant_format=QuantFormat.QDQ, per_channel=spec.per_channel,
            reduce_range=bool(spec.reduce_range), activation_type=act, weight_type=weights,
            nodes_to_exclude=list(dict.fromkeys([*nodes_to_exclude, *kept])),
            nodes_to_quantize=list(nodes_to_quantize or []),
            calibrate_method=getattr(CalibrationMethod, ORT_METHODS[spec.method]), extra_options=extra,
            calibration_cache_path=str(cache_path),
        )
    return shield_fp32_weights(out_path)


def robust_minmax_ranges(prepared: str | Path, images: np.ndarray, image_percentile: float = 99.0, batch: int = 32,
                         threads: int | None = None) -> dict[str, tuple[float, float]]:
    """{tensor: (low, high)} for every float tensor of the model: each calibration image's own min and max,
    then the (100 - image_percentile)-th percentile of the mins and the image_percentile-th of the maxes.

    A rare image whose activations reach far past the others' (some students' do, 20-100x, on ~1 % of
    images) then cannot set the range that every other image is quantized with; image_percentile=100 is
    plain minmax. Tensors without a batch axis (rare) count as one value per batch."""
    import onnx
    import onnxruntime as ort

    model = onnx.shape_inference.infer_shapes(onnx.load(str(prepared)))
    graph = model.graph
    floats = {v.name for v in [*graph.input, *graph.value_info, *graph.output]
              if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT}
    inits = {t.name for t in graph.initializer}
    names = list(dict.fromkeys(t for n in graph.node for t in [*n.input, *n.output] if t in floats and t not in inits))
    have = {o.name for o in graph.output}
    graph.output.extend(onnx.helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None) for t in names if t not in have)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # every tensor as the graph names it
    if threads:
        opts.intra_op_num_threads = int(threads)
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    input_name, _ = onnx_input(prepared)
    lows: dict[str, list] = {t: [] for t in names}
    highs: dict[str, list] = {t: [] for t in names}
    for i in range(0, len(images), batch):
        x = images[i : i + batch]
        for t, a in zip(names, sess.run(names, {input_name: x})):
            a = np.asarray(a, dtype=np.float32)
            a = a.reshape(len(x), -1) if a.ndim and a.shape[0] == len(x) else a.reshape(1, -1)
            if a.size:
                lows[t].append(a.min(axis=1))
                highs[t].append(a.max(axis=1))
    q = float(image_percentile)
    return {t: (float(np.percentile(np.concatenate(lows[t]), 100 - q)), float(np.percentile(np.concatenate(highs[t]), q)))
            for t in names if lows[t]}


def write_ranges(ranges: dict[str, tuple[float, float]], cache_path: str | Path) -> Path:
    """Activation ranges as ONNX Runtime's calibration cache (MinMax), which quantize_static reads instead of calibrating."""
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import TensorData, TensorsData
    from onnxruntime.quantization.quantize import save_tensors_data

    data = {t: TensorData(lowest=np.array(lo, np.float32), highest=np.array(hi, np.float32)) for t, (lo, hi) in ranges.items()}
    save_tensors_data(TensorsData(CalibrationMethod.MinMax, data), Path(cache_path))
    return Path(cache_path)


WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm")  # what ORT's WeightBiasQuantization quantizes on its own


def shield_fp32_weights(qdq_path: str | Path) -> Path:
    """Keep float-weight Conv/ConvTranspose/Gemm nodes in FP32 when ONNX Runtime loads the file; in place.

    A node left in FP32 (excluded, or not selected) may still read a dequantized activation. When that
    DequantizeLinear is per-tensor, ONNX Runtime's WeightBiasQuantization optimizer (on at every
    optimization level but 'disabled') quantizes the node's float weights to per-tensor INT8 when the
    session loads, which for depthwise convolutions is a collapse (their per-channel ranges differ by
    orders of magnitude). Such a node gets its own DequantizeLinear with the same scale and zero point
    repeated per channel (axis 1): the same values, which that optimizer does not match."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(qdq_path))
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    added = []
    for node in graph.node:
        if node.op_type not in WEIGHTED_OPS or len(node.input) < 2:
            continue
        weight = inits.get(node.input[1])
        dq = producer.get(node.input[0])
        if weight is None or weight.data_type != onnx.TensorProto.FLOAT or dq is None or dq.op_type != "DequantizeLinear":
            continue
        has_zero = len(dq.input) > 2 and bool(dq.input[2])
        scale, zero = inits.get(dq.input[1]), inits.get(dq.input[2]) if has_zero else None
        if scale is None or int(np.prod(scale.dims)) != 1 or (has_zero and zero is None):
            continue  # already per-channel, or parameters computed at run time: not what the optimizer matches
        channels, axis = _input_channels(node, list(weight.dims))
        if channels is None:
            continue
        name = f"{node.name}/fp32_input"
        s = numpy_helper.to_array(scale).reshape(-1)
        new_inputs = [dq.input[0], f"{name}_scale"]
        graph.initializer.append(numpy_helper.from_array(np.repeat(s, channels), new_inputs[1]))
        if zero is not None:
            z = numpy_helper.to_array(zero).reshape(-1)
            new_inputs.append(f"{name}_zero_point")
            graph.initializer.append(numpy_helper.from_array(np.repeat(z, channels), new_inputs[2]))
        added.append((node, onnx.helper.make_node("DequantizeLinear", new_inputs, [name], name=f"{name}_dq", axis=axis)))
        node.input[0] = name
    if added:
        for node, dq in added:  # each right before its node: the graph stays topologically sorted
            graph.node.insert(list(graph.node).index(node), dq)
        onnx.save(model, str(qdq_path))
    return Path(qdq_path)


def _input_channels(node, wdims: list[int]) -> tuple[int | None, int]:
    """(channels of the node's activation input, their axis) from its weight's shape."""
    attrs = {a.name: a.i for a in node.attribute}
    if node.op_type == "Conv" and len(wdims) >= 2:
        return wdims[1] * attrs.get("group", 1), 1
    if node.op_type == "ConvTranspose" and wdims:
        return wdims[0], 1
    if node.op_type == "Gemm" and len(wdims) == 2:
        return (wdims[1] if attrs.get("transB", 0) else wdims[0]), (0 if attrs.get("transA", 0) else 1)
    return None, 1


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
