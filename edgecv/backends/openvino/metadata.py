"""What an OpenVINO IR is: reading one (the .xml and its weights .bin) with the process's one ov.Core,
and what it expects, from its graph and the edgecv metadata in its rt_info."""
from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from ..base import ArtifactMetadata
from ..metadata import file_metadata

RT_INFO_KEY = "edgecv"  # rt_info entry holding edgecv's metadata as JSON


@functools.lru_cache(maxsize=1)
def core():
    """One ov.Core per process (it owns the plugins and their thread pools)."""
    import openvino as ov

    return ov.Core()


def read_ir(path: Path):
    """ov.Model of an IR; a missing weights file or an unreadable graph is one clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"OpenVINO IR not found: {path}")
    weights = path.with_suffix(".bin")
    if not weights.is_file():
        raise FileNotFoundError(f"{path}: its weights {weights.name} are missing (an OpenVINO IR is the .xml and "
                                "the .bin of the same name beside it)")
    try:
        return core().read_model(str(path))
    except RuntimeError as e:
        from ...utils.errors import first_line

        raise ValueError(f"{path} is not a readable OpenVINO IR: {first_line(e)}") from None


def describe_ir(path: Path) -> ArtifactMetadata:
    """Input shape (NCHW), layout, dtype, precision and params of an IR; edgecv's own entry if it has one."""
    model = read_ir(path)
    if len(model.inputs) != 1:
        raise ValueError(f"{path}: expected one image input, the model has {len(model.inputs)}")
    inp = model.inputs[0]
    embedded = json.loads(model.get_rt_info([RT_INFO_KEY]).astype(str)) if model.has_rt_info([RT_INFO_KEY]) else None
    meta = file_metadata(path, _dims(inp.get_partial_shape()), np.dtype(inp.get_element_type().to_dtype()).name,
                         embedded, precision=_precision(model))
    meta.extra["outputs"] = [_dims(o.get_partial_shape()) for o in model.outputs]
    meta.extra["params"] = _params(model)
    return meta


def _dims(shape) -> list:
    """A partial shape as ints, with 'batch' for a dynamic first dim (and '?' for other dynamic ones)."""
    if shape.rank.is_dynamic:
        return []
    return [d.get_length() if d.is_static else "batch" if i == 0 else "?" for i, d in enumerate(shape)]


def _precision(model) -> str:
    """int8 where NNCF left FakeQuantize nodes, fp16 where the weights are FP16, else fp32."""
    ops = model.get_ops()
    if any(op.get_type_name() == "FakeQuantize" for op in ops):
        return "int8"
    constants = [op for op in ops if op.get_type_name() == "Constant"]
    return "fp16" if any(op.get_element_type().get_type_name() == "f16" for op in constants) else "fp32"


def _params(model) -> int:
    """Weights in the IR's constants (shape and index constants excluded)."""
    total = 0
    for op in model.get_ops():
        if op.get_type_name() != "Constant" or op.get_element_type().get_type_name() in ("i64", "i32", "boolean"):
            continue
        shape = list(op.get_output_shape(0))
        if shape:
            total += int(np.prod(shape))
    return total
