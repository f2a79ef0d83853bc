"""The `onnxruntime` backend: ONNX export + an InferenceSession (CPU; CUDA/TensorRT providers when present).

Precisions are builders keyed by name in `BUILDERS`, so quantized variants plug in without touching
the harness: `BUILDERS["int8"] = fn(model, sample, calibration, out_dir) -> Artifact`.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Callable

import numpy as np

from .base import BACKENDS, Artifact, ArtifactMetadata, Runner
from .layout import guess_layout, input_adapter

TOOLS = ("torch", "onnx", "onnxruntime", "onnxslim")
# Preferred order; only the providers the installed onnxruntime has are used.
# EDGECV_ORT_PROVIDERS=CPUExecutionProvider (comma-separated) overrides it.
PROVIDER_ORDER = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
_ORT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(uint8)": "uint8",
              "tensor(int8)": "int8", "tensor(double)": "float64"}


def _build_fp32(model, sample, calibration, out_dir: Path) -> Artifact:
    from ..export.metadata import artifact_metadata
    from ..export.onnx_export import export_onnx

    meta = artifact_metadata(model, sample, "fp32", TOOLS)
    path = Path(out_dir) / f"{meta.source_model}-fp32.onnx"
    export_onnx(model, path, tuple(sample.shape), metadata=_plain(meta))
    art = Artifact(path, "onnxruntime", meta)
    art.save_metadata()
    return art


def _build_int8(model, sample, calibration, out_dir: Path) -> Artifact:
    from ..quantize.builders import build_int8  # QDQ PTQ with ONNX Runtime's tools

    return build_int8(model, sample, calibration, out_dir)


def _build_fp16(model, sample, calibration, out_dir: Path) -> Artifact:
    from ..quantize.builders import build_fp16  # FP16 weights/compute, FP32 inputs and outputs

    return build_fp16(model, sample, calibration, out_dir)


BUILDERS: dict[str, Callable[..., Artifact]] = {"fp32": _build_fp32, "int8": _build_int8, "fp16": _build_fp16}


class OnnxRuntimeBackend:
    name = "onnxruntime"
    suffix = ".onnx"
    extra = "onnx"
    format = "onnx"

    @property
    def precisions(self) -> tuple[str, ...]:
        return tuple(BUILDERS)

    def available(self) -> tuple[bool, str]:
        missing = [m for m in ("onnx", "onnxruntime", "onnxslim") if importlib.util.find_spec(m) is None]
        if missing:
            return False, f"{', '.join(missing)} not installed: pip install 'edgecv[{self.extra}]'"
        return True, ""

    def build(self, model, sample, precision: str, calibration, out_dir: Path) -> Artifact:
        if precision not in BUILDERS:
            raise ValueError(f"onnxruntime backend builds {', '.join(BUILDERS)}, not '{precision}'")
        return BUILDERS[precision](model, sample, calibration, Path(out_dir))

    def load(self, artifact: Artifact, threads: int | None = None) -> Runner:
        sess = open_session(artifact.path, threads)
        inp = sess.get_inputs()[0]
        meta = artifact.metadata
        adapt = input_adapter(meta.layout, meta.input_dtype, meta.mean, meta.std)
        run_session, name = sess.run, inp.name
        if adapt is None:  # the common case stays a single call: nothing between the harness and ORT
            def run(x: np.ndarray) -> np.ndarray:
                return run_session(None, {name: x})[0]
        else:
            def run(x: np.ndarray) -> np.ndarray:
                return run_session(None, {name: adapt(x)})[0]
        run.info = {"provider": sess.get_providers()[0], "threads": threads, "session": sess}
        return run

    def inspect(self, path: str | Path) -> ArtifactMetadata:
        """Metadata read from the file itself: input shape, layout, dtype, and edgecv's own entry if any."""
        import json

        sess = open_session(path, 1)
        inputs, outputs = sess.get_inputs(), sess.get_outputs()
        if len(inputs) != 1:
            raise ValueError(f"{path}: expected one image input, the model has {len(inputs)} ({', '.join(i.name for i in inputs)})")
        shape = [d if isinstance(d, int) else "batch" if i == 0 else d for i, d in enumerate(inputs[0].shape)]
        if len(shape) != 4:
            raise ValueError(f"{path}: input '{inputs[0].name}' has shape {inputs[0].shape}; an image classifier takes a 4-D NCHW or NHWC batch")
        layout = guess_layout(shape)
        if layout == "NHWC":
            shape = [shape[0], shape[3], shape[1], shape[2]]
        meta = ArtifactMetadata(input_shape=shape, layout=layout, input_dtype=_ORT_TYPES.get(inputs[0].type, "float32"))
        props = sess.get_modelmeta().custom_metadata_map
        if "edgecv" in props:
            known = set(ArtifactMetadata.__dataclass_fields__) - {"input_shape", "layout", "input_dtype"}
            for k, v in json.loads(props["edgecv"]).items():
                if k in known:
                    setattr(meta, k, v)
        meta.extra["outputs"] = [list(o.shape) for o in outputs]
        return meta


def providers() -> list[str]:
    import onnxruntime as ort

    wanted = os.environ.get("EDGECV_ORT_PROVIDERS")
    order = [p.strip() for p in wanted.split(",")] if wanted else list(PROVIDER_ORDER)
    have = set(ort.get_available_providers())
    chosen = [p for p in order if p in have]
    return chosen or ["CPUExecutionProvider"]


def open_session(path: str | Path, threads: int | None = None):
    """An InferenceSession with full graph optimisation; errors name the file."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX file not found: {path}")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.inter_op_num_threads = 1
    if threads:
        opts.intra_op_num_threads = int(threads)
    opts.log_severity_level = 3  # errors only; warnings about unused initialisers are noise here
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=providers())
    except Exception as e:  # InvalidProtobuf, NoSuchFile, Fail: ORT's own exception types
        msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path} is not a loadable ONNX model: {msg}") from None


def _plain(meta: ArtifactMetadata) -> dict:
    from dataclasses import asdict

    return {k: v for k, v in asdict(meta).items() if k != "extra"}


BACKENDS.register("onnxruntime", OnnxRuntimeBackend())
