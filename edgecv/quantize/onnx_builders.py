"""What the quantize layer adds to the `onnxruntime` backend: builders for its int8 and fp16.

Both convert the backend's FP32 ONNX file (derived precisions): the export stage passes the FP32
artifact it already built, so the model is exported once, then quantized."""
from __future__ import annotations

from pathlib import Path

from ..backends import BACKENDS, Artifact
from .spec import BACKEND, PRECISIONS


def _convert(precision: str):
    def build(source: Artifact, calibration, out_dir: Path, options) -> Artifact:
        from .api import quantize_onnx

        out = Path(out_dir) / f"{source.metadata.source_model}-{precision}.onnx"
        # option `quantize`: a QuantizeSpec (calibration method, per-channel, ...); its defaults otherwise
        return quantize_onnx(source.path, out, precision, calibration if precision == "int8" else None,
                             spec=options.get("quantize"), target=options.get("target")).artifact

    return build


def attach() -> None:
    ort = BACKENDS.get(BACKEND)
    for precision in PRECISIONS:
        ort.attach_builder(precision, _convert(precision), derived=True, options=("quantize",))


attach()
