"""The `onnxruntime` Backend object: its precisions, and which builder, runner and reader it uses."""
from __future__ import annotations

from pathlib import Path

from ...targets import Target, recorded_target
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

    def run_problem(self, artifact: Artifact, host: Target) -> str | None:
        """INT8 weights that overflow int16 in this CPU's u8 x s8 kernels (x86 without VNNI), proven from the file."""
        if not host.int8_saturates or not Path(artifact.path).is_file():
            return None
        from ..onnx_saturation import int8_saturation

        check = int8_saturation(artifact.path)
        if check.safe:
            return None
        built = recorded_target(artifact.metadata.target)
        return (f"saturates on this CPU: built for {built.describe() if built else 'an unrecorded target'}, run on "
                f"{host.compact()} without VNNI, whose u8 x s8 kernels overflow int16 with the weights of "
                f"{len(check.unsafe)} of its {len(check.weights)} int8 layers; rebuild it with --target x86-avx2")

    def inspect(self, path: str | Path) -> ArtifactMetadata:
        """Metadata read from the file itself: input shape, layout, dtype, params, and edgecv's own entry if any."""
        return read_metadata(path)
