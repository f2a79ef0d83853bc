"""The `tflite` Backend object: its precisions, and which builder, runner and reader it uses."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from ..base import Artifact, ArtifactMetadata, BaseBackend, Precision, Runner
from ..metadata import artifact_metadata
from .builder import PRECISIONS, convert_to_tflite
from .metadata import describe_file
from .runner import RUNTIME_HINT, TFLiteRunner

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
