"""Run an OpenVINO IR on the CPU plugin with explicit settings, and read what an IR expects."""
from __future__ import annotations

import functools
import json
import threading
from pathlib import Path

import numpy as np

from ..base import ArtifactMetadata
from ..layout import input_adapter
from ..metadata import file_metadata


@functools.lru_cache(maxsize=1)
def core():
    """One ov.Core per process (it owns the plugins and their thread pools)."""
    import openvino as ov

    return ov.Core()


def compile_config(threads: int | None) -> dict:
    """Settings every runner compiles with: one stream, latency first, FP32 compute (an FP32 model
    would otherwise run in BF16 on CPUs that have it), threads not pinned to cores, and the thread
    count when one is given. Pinned (OpenVINO's default), 2 threads of ResNet-20 ran 8x slower
    (7.9 vs 1.0 ms, AMD EPYC, 2 cores) while other processes used the cores they were pinned to."""
    config = {"NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32",
              "ENABLE_CPU_PINNING": False}
    if threads:
        config["INFERENCE_NUM_THREADS"] = int(threads)
    return config


class OpenVINORunner:
    """NCHW float32 batch -> logits through one infer request of a model compiled for "CPU"."""

    def __init__(self, path: Path, metadata: ArtifactMetadata, threads: int | None = None):
        import openvino as ov

        from .convert import read_ir

        self.path = Path(path)
        self.config = compile_config(threads)
        self.compiled = core().compile_model(read_ir(self.path), "CPU", self.config)
        self._request = self.compiled.create_infer_request()
        self._lock = threading.Lock()  # an infer request serves one call at a time
        self._adapt = input_adapter(metadata.layout, metadata.input_dtype, metadata.mean, metadata.std)
        prop = self.compiled.get_property
        self.info = {"device": "CPU", "runtime": f"openvino {ov.get_version().split('-')[0]}",
                     "threads": int(prop("INFERENCE_NUM_THREADS")), "streams": int(prop("NUM_STREAMS")),
                     "inference_precision": prop("INFERENCE_PRECISION_HINT").get_type_name(),
                     "pinned": bool(prop("ENABLE_CPU_PINNING")), "config": dict(self.config)}

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(batch, dtype=np.float32)
        feed = self._adapt(x) if self._adapt is not None else x
        with self._lock:
            out = self._request.infer({0: feed})  # outputs are copied out of the request
        return np.asarray(out[0], dtype=np.float32)


def describe_ir(path: Path) -> ArtifactMetadata:
    """Input shape (NCHW), layout, dtype, precision and params of an IR; edgecv's own entry if it has one."""
    from .convert import RT_INFO_KEY, read_ir

    model = read_ir(path)
    if len(model.inputs) != 1:
        raise ValueError(f"{path}: expected one image input, the model has {len(model.inputs)}")
    inp = model.inputs[0]
    embedded = json.loads(model.get_rt_info([RT_INFO_KEY]).astype(str)) if model.has_rt_info([RT_INFO_KEY]) else None
    meta = file_metadata(path, _dims(inp.get_partial_shape()), np.dtype(inp.get_element_type().to_dtype()).name,
                         embedded, precision=_precision(model))
    meta.extra["outputs"] = [_dims(o.get_partial_shape()) for o in model.outputs]
    meta.extra["params"] = _params(model)
    return meta


def _dims(shape) -> list:
    """A partial shape as ints, with 'batch' for a dynamic first dim (and '?' for other dynamic ones)."""
    if shape.rank.is_dynamic:
        return []
    return [d.get_length() if d.is_static else "batch" if i == 0 else "?" for i, d in enumerate(shape)]


def _precision(model) -> str:
    """int8 where NNCF left FakeQuantize nodes, fp16 where the weights are FP16, else fp32."""
    ops = model.get_ops()
    if any(op.get_type_name() == "FakeQuantize" for op in ops):
        return "int8"
    constants = [op for op in ops if op.get_type_name() == "Constant"]
    return "fp16" if any(op.get_element_type().get_type_name() == "f16" for op in constants) else "fp32"


def _params(model) -> int:
    """Weights in the IR's constants (shape and index constants excluded)."""
    total = 0
    for op in model.get_ops():
        if op.get_type_name() != "Constant" or op.get_element_type().get_type_name() in ("i64", "i32", "boolean"):
            continue
        shape = list(op.get_output_shape(0))
        if shape:
            total += int(np.prod(shape))
    return total
