"""FP32 ONNX from a PyTorch model, with edgecv's metadata inside the file and in its sidecar."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..base import Artifact
from ..metadata import artifact_metadata

TOOLS = ("torch", "onnx", "onnxruntime", "onnxslim")


def build_fp32(model, sample, out_dir: Path, preprocess: Mapping[str, Any] | None, backend: str) -> Artifact:
    from ...export.onnx_export import export_onnx

    meta = artifact_metadata(model, sample, "fp32", TOOLS, preprocess)
    path = Path(out_dir) / f"{meta.source_model}-fp32.onnx"
    export_onnx(model, path, tuple(sample.shape), metadata=meta.plain())
    art = Artifact(path, backend, meta)
    art.save_metadata()
    return art
