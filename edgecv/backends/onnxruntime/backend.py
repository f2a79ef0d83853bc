"""The `onnxruntime` Backend object: its precisions, and which builder, runner and reader it uses."""
from __future__ import annotations

from pathlib import Path

from ..base import Artifact, ArtifactMetadata, BaseBackend, Precision, Runner
from .builder import build_fp32
from .metadata import read_metadata
from .runner import session_runner


class OnnxRuntimeBackend(BaseBackend):
    name = "onnxruntime"
    suffix = ".onnx"
    extra = "onnx"
    format = "onnx"
    modules = ("onnx", "onnxruntime", "onnxslim")
    builder_hint = " (the quantize layer attaches it: edgecv.load_plugins(), pip install 'edgecv[quantize]')"

    def __init__(self):
        super().__init__([
            Precision("fp32"),
            Precision("fp16", summary="FP16 weights and compute, FP32 inputs/outputs"),
            Precision("int8", needs_calibration=True, integer=True, summary="static QDQ INT8"),
        ])
        self.attach_builder("fp32", self._build_fp32)

    def _build_fp32(self, model, sample, calibration, out_dir: Path, options) -> Artifact:
        return build_fp32(model, sample, Path(out_dir), options.get("preprocess"), self.name)

    def load(self, artifact: Artifact, threads: int | None = None) -> Runner:
        return session_runner(artifact, threads)

    def inspect(self, path: str | Path) -> ArtifactMetadata:
        """Metadata read from the file itself: input shape, layout, dtype, params, and edgecv's own entry if any."""
        return read_metadata(path)
