"""PyTorch -> OpenVINO IR: FP32 from the model's ONNX export or from torch.export, FP16 from the FP32 IR.

An IR is two files, `name.xml` (the graph) and `name.bin` (the weights); both are written into a
scratch folder beside the target and moved into place weights first, so the .xml never appears
without its .bin. edgecv's metadata goes into the IR's rt_info as well as the sidecar.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

from ...utils.profile import eval_mode
from ..base import Artifact, ArtifactMetadata
from ..metadata import artifact_metadata
from .metadata import RT_INFO_KEY, read_ir

BACKEND = "openvino"
TOOLS = {"onnx": ("torch", "onnx", "onnxslim", "openvino"), "torch": ("torch", "openvino")}


def build_fp32(model, sample, out_dir: Path, via: str, preprocess) -> Artifact:
    """The model as an FP32 IR, converted from its ONNX export (`via="onnx"`) or its torch.export graph."""
    meta = artifact_metadata(model, sample, "fp32", TOOLS[via], preprocess)
    meta.extra["converted_from"] = via
    path = Path(out_dir) / f"{meta.source_model}-fp32.xml"
    if via == "torch":
        return save_artifact(from_torch(model, sample), path, meta)
    import openvino as ov

    from ...export.onnx_export import export_onnx

    with tempfile.TemporaryDirectory(prefix="edgecv-openvino-") as tmp:
        onnx_path = export_onnx(model, Path(tmp) / "model.onnx", tuple(sample.shape))
        return save_artifact(ov.convert_model(str(onnx_path)), path, meta)


def from_torch(model, sample):
    """ov.Model of `model` through torch.export, with a dynamic batch and the sample's C, H, W."""
    import openvino as ov
    import torch

    c, h, w = (int(d) for d in tuple(sample.shape)[1:])
    example = torch.zeros(2, c, h, w)  # torch.export specialises a batch of 1 to a constant
    with eval_mode(model), torch.no_grad():
        graph = torch.export.export(model, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    ov_model = ov.convert_model(graph)
    ov_model.reshape({ov_model.inputs[0]: ov.PartialShape([-1, c, h, w])})  # only the batch stays dynamic
    return ov_model


def build_fp16(source: Artifact, out_dir: Path) -> Artifact:
    """The FP32 IR `source` saved with FP16 weights."""
    meta = source.metadata.copy(precision="fp16")
    meta.extra["source_artifact"] = str(source.path)
    path = Path(out_dir) / f"{meta.source_model}-fp16.xml"
    return save_artifact(read_ir(source.path), path, meta, compress_to_fp16=True)



def save_artifact(ov_model, path: Path, meta: ArtifactMetadata, compress_to_fp16: bool = False) -> Artifact:
    """Write `ov_model` as the IR `path` (+ .bin) with `meta` inside and in the sidecar."""
    ov_model.set_rt_info(json.dumps(asdict(meta), default=str), [RT_INFO_KEY])
    write_ir(ov_model, Path(path), compress_to_fp16)
    art = Artifact(Path(path), BACKEND, meta)
    art.save_metadata()
    return art


def write_ir(ov_model, path: Path, compress_to_fp16: bool = False) -> None:
    import openvino as ov

    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{path.stem}.", dir=path.parent))
    try:
        ov.save_model(ov_model, str(scratch / "model.xml"), compress_to_fp16=compress_to_fp16)
        os.replace(scratch / "model.bin", path.with_suffix(".bin"))
        os.replace(scratch / "model.xml", path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
