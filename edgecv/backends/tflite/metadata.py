"""What a .tflite file says about itself, read from its tensors: layout, input dtype, NCHW input shape,
quantization parameters and the precision it was built at."""
from __future__ import annotations

from pathlib import Path

from ..base import ArtifactMetadata
from .runner import infer_layout, make_interpreter


def describe_file(path: Path, meta: ArtifactMetadata) -> ArtifactMetadata:
    """Fill layout, input dtype, NCHW input shape and quantization parameters from the file's tensors."""
    import numpy as np

    interp, runtime = make_interpreter(path, threads=1)
    inputs, outputs = interp.get_input_details(), interp.get_output_details()
    if len(inputs) != 1:
        raise ValueError(f"{path}: expected one image input, the model has {len(inputs)} ({', '.join(d['name'] for d in inputs)})")
    inp, out = inputs[0], outputs[0]
    shape = [int(d) for d in inp["shape"]]
    if len(shape) != 4:
        raise ValueError(f"{path}: input '{inp['name']}' has shape {shape}; an image classifier takes a 4-D NHWC or NCHW batch")
    meta.layout = infer_layout(shape, meta.layout)
    n, c, h, w = (shape[0], shape[3], shape[1], shape[2]) if meta.layout == "NHWC" else tuple(shape)
    meta.input_shape = [n if n > 1 else "batch", c, h, w]
    meta.input_dtype = np.dtype(inp["dtype"]).name
    meta.extra.update({
        "tensor_shape": shape,
        "input_quantization": _quant(inp),
        "output_dtype": np.dtype(out["dtype"]).name,
        "output_quantization": _quant(out),
        "outputs": [[int(d) for d in o["shape"]] for o in outputs],
        "runtime": runtime,
        "detected_precision": _precision(interp, meta.input_dtype),
    })
    return meta


def _precision(interp, input_dtype: str) -> str:
    """int8 (integer I/O), fp16 (float16 weights), dynamic (int8 weights, float I/O) or fp32."""
    import numpy as np

    if input_dtype in ("int8", "uint8"):
        return "int8"
    dtypes = {np.dtype(t["dtype"]).name for t in interp.get_tensor_details()}
    return "fp16" if "float16" in dtypes else "dynamic" if "int8" in dtypes else "fp32"


def _quant(detail) -> dict | None:
    scale, zero = detail.get("quantization", (0.0, 0))
    return {"scale": float(scale), "zero_point": int(zero)} if scale else None
