"""The `openvino` backend: OpenVINO IR (`model.xml` + its weights `model.bin`) on OpenVINO's CPU plugin.

Precisions:
    fp32   the model converted to IR: from its ONNX export (default, the graph ONNX Runtime runs too) or
           straight from PyTorch through torch.export (option `convert_from: torch`)
    fp16   the same IR with FP16 weights (half the file); CPUs decompress them and compute in FP32
    int8   NNCF post-training quantization of the FP32 IR on the calibration images (FakeQuantize
           nodes, run as INT8 kernels: VNNI / AMX on x86, dot-product on ARM). With `max_drop` (top-1
           points) or `min_agreement` (% of images predicted as FP32 predicts them), NNCF's
           accuracy-controlled quantization puts the most harmful layers back to FP32 until it holds,
           judged on labelled training images held out from calibration (`accuracy_images`).
Build options: convert_from (onnx | torch), preset (performance: symmetric activations | mixed:
asymmetric, for models with negative activations such as hardswish), max_drop, min_agreement,
accuracy_images. The IR's rt_info carries edgecv's metadata, so the file describes itself.
Runners compile for "CPU" with explicit settings: INFERENCE_NUM_THREADS, one stream, the LATENCY hint
and FP32 inference precision (CPUs with BF16/AMX would otherwise compute FP32 models in BF16).
"""
from __future__ import annotations

from pathlib import Path

from ..base import BACKENDS, Artifact, ArtifactMetadata, BaseBackend, Precision, Runner

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
        from .convert import build_fp32

        via = options.get("convert_from", "onnx")
        if via not in CONVERT_FROM:
            raise ValueError(f"openvino option convert_from: '{via}' is not one of {', '.join(CONVERT_FROM)}")
        return build_fp32(model, sample, Path(out_dir), via, options.get("preprocess"))

    def _build_fp16(self, source: Artifact, calibration, out_dir: Path, options) -> Artifact:
        from .convert import build_fp16

        return build_fp16(source, Path(out_dir))

    def _build_int8(self, source: Artifact, calibration, out_dir: Path, options) -> Artifact:
        from .quantize import build_int8

        return build_int8(source, calibration, Path(out_dir), options)

    def load(self, artifact: Artifact, threads: int | None = None) -> Runner:
        from .runner import OpenVINORunner

        return OpenVINORunner(artifact.path, artifact.metadata, threads)

    def inspect(self, path: str | Path) -> ArtifactMetadata:
        from .runner import describe_ir

        return describe_ir(Path(path))


BACKENDS.register("openvino", OpenVINOBackend())
