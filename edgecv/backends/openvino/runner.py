"""Run an OpenVINO IR on the CPU plugin with explicit settings."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ..base import ArtifactMetadata
from ..layout import input_adapter
from .metadata import core, read_ir



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
