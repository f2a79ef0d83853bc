"""The `openvino` Backend object: its precisions and options, and which converter, quantizer,
runner and reader it uses."""
from __future__ import annotations

from pathlib import Path

from ..base import Artifact, ArtifactMetadata, BaseBackend, Precision, Runner

CONVERT_FROM = ("onnx", "torch")


class OpenVINOBackend(BaseBackend):
    name = "openvino"
    suffix = ".xml"
    companions = (".bin",)  # the weights: same name as the .xml, which OpenVINO reads beside it
    extra = "openvino"
    format = "openvino"
    modules = ("openvino",)  # running needs only the runtime; int8 builds also need nncf (same extra)
    options = ("convert_from", "preset", "max_drop", "min_agreement", "accuracy_images")

    def __init__(self):
        super().__init__([
            Precision("fp32", summary="OpenVINO IR"),
            Precision("fp16", summary="FP16 weights, computed in FP32 on CPUs"),
            Precision("int8", needs_calibration=True, integer=True, summary="NNCF post-training quantization"),
        ])
        self.attach_builder("fp32", self._build_fp32)
        self.attach_builder("fp16", self._build_fp16, derived=True)
        self.attach_builder("int8", self._build_int8, derived=True)

    def _build_fp32(self, model, sample, calibration, out_dir: Path, options) -> Artifact:
        from .builder import build_fp32

        via = options.get("convert_from", "onnx")
        if via not in CONVERT_FROM:
            raise ValueError(f"openvino option convert_from: '{via}' is not one of {', '.join(CONVERT_FROM)}")
        return build_fp32(model, sample, Path(out_dir), via, options.get("preprocess"))

    def _build_fp16(self, source: Artifact, calibration, out_dir: Path, options) -> Artifact:
        from .builder import build_fp16

        return build_fp16(source, Path(out_dir))

    def _build_int8(self, source: Artifact, calibration, out_dir: Path, options) -> Artifact:
        from .quantize import build_int8

        return build_int8(source, calibration, Path(out_dir), options)

    def load(self, artifact: Artifact, threads: int | None = None) -> Runner:
        from .runner import OpenVINORunner

        return OpenVINORunner(artifact.path, artifact.metadata, threads)

    def inspect(self, path: str | Path) -> ArtifactMetadata:
        from .metadata import describe_ir

        return describe_ir(Path(path))

