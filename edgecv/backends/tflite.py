"""The `tflite` backend: PyTorch -> .tflite with litert-torch, run with the LiteRT interpreter.

Precisions: fp32, fp16 (float16 weights), dynamic (dynamic-range int8 weights), int8 (full integer,
calibrated; int8 input and output tensors). Files are channel-last (NHWC) by default, what mobile
apps feed; the sidecar metadata records layout, dtype and how integer inputs are encoded, and the
runner adapts the harness's NCHW float32 batches to it. Files edgecv did not make (e.g. Coral's
uint8 MobileNets) run too: `inspect` reads what they expect from the file.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from ..export.tflite_convert import PRECISIONS, convert_to_tflite
from .base import BACKENDS, Artifact, ArtifactMetadata, BaseBackend, Precision, Runner
from .metadata import artifact_metadata
from .tflite_runner import RUNTIME_HINT, TFLiteRunner, infer_layout

TOOLS = ("torch", "litert-torch", "litert-converter", "ai-edge-litert", "ai-edge-quantizer", "torchao")
_SUMMARIES = {"fp32": "", "fp16": "float16 weights", "dynamic": "int8 weights, float activations",
              "int8": "full integer, int8 input/output"}


class TFLiteBackend(BaseBackend):
    name = "tflite"
    suffix = ".tflite"
    extra = "tflite"
    format = "tflite"
    options = ("layout",)  # NHWC (default, what mobile apps feed) or NCHW

    def __init__(self):
        super().__init__([Precision(p, needs_calibration=p == "int8", integer=p in ("int8", "dynamic"),
                                    summary=_SUMMARIES[p]) for p in PRECISIONS])
        for p in PRECISIONS:  # one converter serves every precision
            self.attach_builder(p, self._builder_for(p))

    def available(self) -> tuple[bool, str]:
        """Running needs a LiteRT interpreter (ai-edge-litert, or tflite-runtime on boards); building
        also needs litert-torch, which the build itself checks (an ImportError naming the extra)."""
        if importlib.util.find_spec("ai_edge_litert") or importlib.util.find_spec("tflite_runtime"):
            return True, ""
        return False, RUNTIME_HINT

    def _builder_for(self, precision: str):
        def build(model, sample, calibration, out_dir: Path, options) -> Artifact:
            meta = artifact_metadata(model, sample, precision, TOOLS, options.get("preprocess"))
            path = Path(out_dir) / f"{meta.source_model}-{precision}{self.suffix}"
            convert_to_tflite(model, tuple(sample.shape), precision, path, calibration, layout=options.get("layout", "NHWC"))
            meta = describe_file(path, meta)
            meta.extra.pop("detected_precision")
            meta.extra["input_encoding"] = "normalized"  # integer inputs are the quantised normalised image
            if calibration is not None and precision == "int8":
                meta.extra["calibration_images"] = len(calibration)
            art = Artifact(path, self.name, meta)
            art.save_metadata()
            return art

        return build

    def load(self, artifact: Artifact, threads: int | None = None, xnnpack: bool = True) -> Runner:
        return TFLiteRunner(artifact.path, artifact.metadata, threads=threads, xnnpack=xnnpack)

    def inspect(self, path: str | Path) -> ArtifactMetadata:
        """What a .tflite file expects, read from its tensors (for files without a sidecar)."""
        meta = describe_file(Path(path), ArtifactMetadata(source_model=Path(path).stem))
        meta.precision = meta.extra.pop("detected_precision")
        return meta


def describe_file(path: Path, meta: ArtifactMetadata) -> ArtifactMetadata:
    """Fill layout, input dtype, NCHW input shape and quantization parameters from the file's tensors."""
    import numpy as np

    from .tflite_runner import make_interpreter

    interp, runtime = make_interpreter(path, threads=1)
    inputs, outputs = interp.get_input_details(), interp.get_output_details()
    if len(inputs) != 1:
        raise ValueError(f"{path}: expected one image input, the model has {len(inputs)} ({', '.join(d['name'] for d in inputs)})")
    inp, out = inputs[0], outputs[0]
    shape = [int(d) for d in inp["shape"]]
    if len(shape) != 4:
        raise ValueError(f"{path}: input '{inp['name']}' has shape {shape}; an image classifier takes a 4-D NHWC or NCHW batch")
    meta.layout = infer_layout(shape, meta.layout)
    n, c, h, w = (shape[0], shape[3], shape[1], shape[2]) if meta.layout == "NHWC" else tuple(shape)
    meta.input_shape = [n if n > 1 else "batch", c, h, w]
    meta.input_dtype = np.dtype(inp["dtype"]).name
    meta.extra.update({
        "tensor_shape": shape,
        "input_quantization": _quant(inp),
        "output_dtype": np.dtype(out["dtype"]).name,
        "output_quantization": _quant(out),
        "outputs": [[int(d) for d in o["shape"]] for o in outputs],
        "runtime": runtime,
        "detected_precision": _precision(interp, meta.input_dtype),
    })
    return meta


def _precision(interp, input_dtype: str) -> str:
    """int8 (integer I/O), fp16 (float16 weights), dynamic (int8 weights, float I/O) or fp32."""
    import numpy as np

    if input_dtype in ("int8", "uint8"):
        return "int8"
    dtypes = {np.dtype(t["dtype"]).name for t in interp.get_tensor_details()}
    return "fp16" if "float16" in dtypes else "dynamic" if "int8" in dtypes else "fp32"


def _quant(detail) -> dict | None:
    scale, zero = detail.get("quantization", (0.0, 0))
    return {"scale": float(scale), "zero_point": int(zero)} if scale else None


BACKENDS.register("tflite", TFLiteBackend())
