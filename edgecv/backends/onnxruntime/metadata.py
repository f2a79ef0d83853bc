"""What an ONNX file says about itself: input shape, layout and dtype, weights, and edgecv's own entry."""
from __future__ import annotations

import json
from pathlib import Path

from ..base import ArtifactMetadata
from ..layout import guess_layout
from ..onnx_file import onnx_params
from .runner import open_session

_ORT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(uint8)": "uint8",
              "tensor(int8)": "int8", "tensor(double)": "float64"}


def read_metadata(path: str | Path) -> ArtifactMetadata:
    """The file's metadata, read through a session (which also checks the file loads)."""
    from ...export.onnx_export import METADATA_KEY

    sess = open_session(path, 1)
    inputs, outputs = sess.get_inputs(), sess.get_outputs()
    if len(inputs) != 1:
        raise ValueError(f"{path}: expected one image input, the model has {len(inputs)} ({', '.join(i.name for i in inputs)})")
    shape = [d if isinstance(d, int) else "batch" if i == 0 else d for i, d in enumerate(inputs[0].shape)]
    if len(shape) != 4:
        raise ValueError(f"{path}: input '{inputs[0].name}' has shape {inputs[0].shape}; an image classifier takes a 4-D NCHW or NHWC batch")
    layout = guess_layout(shape)
    if layout == "NHWC":
        shape = [shape[0], shape[3], shape[1], shape[2]]
    meta = ArtifactMetadata(input_shape=shape, layout=layout, input_dtype=_ORT_TYPES.get(inputs[0].type, "float32"))
    props = sess.get_modelmeta().custom_metadata_map
    if METADATA_KEY in props:
        known = set(ArtifactMetadata.__dataclass_fields__) - {"input_shape", "layout", "input_dtype"}
        for k, v in json.loads(props[METADATA_KEY]).items():
            if k in known:
                setattr(meta, k, v)
    meta.extra["outputs"] = [list(o.shape) for o in outputs]
    meta.extra["params"] = onnx_params(Path(path))
    return meta
