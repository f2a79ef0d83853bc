"""The `onnxruntime` backend: ONNX export + an InferenceSession (CPU; CUDA/TensorRT providers when present).

FP32 is built here. INT8 (QDQ) and FP16 are conversions of the FP32 file that the quantize layer
attaches (`attach_builder(..., derived=True)`), so this module never imports quantize.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..utils.errors import first_line
from .base import BACKENDS, Artifact, ArtifactMetadata, BaseBackend, FunctionRunner, Precision, Runner
from .layout import guess_layout, input_adapter
from .metadata import artifact_metadata

TOOLS = ("torch", "onnx", "onnxruntime", "onnxslim")
# Preferred order; only the providers the installed onnxruntime has are used.
# EDGECV_ORT_PROVIDERS=CPUExecutionProvider (comma-separated) overrides it.
PROVIDER_ORDER = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
_ORT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(uint8)": "uint8",
              "tensor(int8)": "int8", "tensor(double)": "float64"}


class OnnxRuntimeBackend(BaseBackend):
    name = "onnxruntime"
    suffix = ".onnx"
    extra = "onnx"
    format = "onnx"
    modules = ("onnx", "onnxruntime", "onnxslim")
    builder_hint = " (the quantize layer adds it: import edgecv.quantize, pip install 'edgecv[quantize]')"

    def __init__(self):
        super().__init__([
            Precision("fp32"),
            Precision("fp16", summary="FP16 weights and compute, FP32 inputs/outputs"),
            Precision("int8", needs_calibration=True, integer=True, summary="static QDQ INT8"),
        ])
        self.attach_builder("fp32", self._build_fp32)

    def _build_fp32(self, model, sample, calibration, out_dir: Path, options) -> Artifact:
        from ..export.onnx_export import export_onnx

        meta = artifact_metadata(model, sample, "fp32", TOOLS, options.get("preprocess"))
        path = Path(out_dir) / f"{meta.source_model}-fp32.onnx"
        export_onnx(model, path, tuple(sample.shape), metadata=meta.plain())
        art = Artifact(path, self.name, meta)
        art.save_metadata()
        return art

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
        return FunctionRunner(run, {"provider": sess.get_providers()[0], "threads": threads, "session": sess})

    def inspect(self, path: str | Path) -> ArtifactMetadata:
        """Metadata read from the file itself: input shape, layout, dtype, params, and edgecv's own entry if any."""
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
        from ..export.onnx_export import METADATA_KEY

        props = sess.get_modelmeta().custom_metadata_map
        if METADATA_KEY in props:
            known = set(ArtifactMetadata.__dataclass_fields__) - {"input_shape", "layout", "input_dtype"}
            for k, v in json.loads(props[METADATA_KEY]).items():
                if k in known:
                    setattr(meta, k, v)
        meta.extra["outputs"] = [list(o.shape) for o in outputs]
        meta.extra["params"] = onnx_params(Path(path))
        return meta


def onnx_params(path: Path) -> int | None:
    """Weights in the file's initializers (shape and axis tensors excluded)."""
    import onnx

    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:
        return None
    index_types = (onnx.TensorProto.INT64, onnx.TensorProto.INT32)
    return int(sum(int(np.prod(t.dims)) for t in graph.initializer if t.dims and t.data_type not in index_types))


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
    # fatal only: an error reaches the caller as the exception (edgecv prints it as one line); ORT's own
    # log line would repeat it raw above that; warnings about unused initialisers are noise here
    opts.log_severity_level = 4
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=providers())
    except Exception as e:  # InvalidProtobuf, NoSuchFile, Fail: ORT's own exception types
        raise ValueError(f"{path} is not a loadable ONNX model: {first_line(e)}") from None


BACKENDS.register("onnxruntime", OnnxRuntimeBackend())
