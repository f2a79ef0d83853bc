"""Reading ONNX files: the one image input, and the weight count. Shared by the backends that take
ONNX (onnxruntime, tensorrt) and by the quantize layer above them."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def onnx_input(path: str | Path) -> tuple[str, list[int | str | None]]:
    """Name and shape of the model's one image input: ints, the symbolic name of a named dynamic dim,
    None for an unnamed one."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    inits = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise ValueError(f"{path}: expected one image input, the model has {len(inputs)}")
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in inputs[0].type.tensor_type.shape.dim]
    return inputs[0].name, dims


def onnx_params(path: Path) -> int | None:
    """Weights in the file's initializers (shape and axis tensors excluded)."""
    import onnx

    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:
        return None
    index_types = (onnx.TensorProto.INT64, onnx.TensorProto.INT32)
    return int(sum(int(np.prod(t.dims)) for t in graph.initializer if t.dims and t.data_type not in index_types))
