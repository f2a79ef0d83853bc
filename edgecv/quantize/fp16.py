"""FP16 ONNX for GPU backends: weights and compute in half precision, inputs/outputs kept FP32.

Keeping FP32 I/O means every runner and the harness feed it exactly like the FP32 model. On CPU,
ONNX Runtime casts ops it has no FP16 kernel for back to FP32, so FP16 is rarely faster there.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..utils.errors import first_line
from ..utils.io import atomic_path


def convert_fp16(src: str | Path, dst: str | Path, op_block_list: Sequence[str] | None = None) -> Path:
    """Write an FP16 copy of `src` to `dst` (atomic); `op_block_list` ops stay FP32."""
    import onnx
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16
    from onnxruntime.transformers.onnx_model import OnnxModel

    model = onnx.load(str(src))
    blocked = list(DEFAULT_OP_BLOCK_LIST) + list(op_block_list or [])
    try:
        half = convert_float_to_float16(model, keep_io_types=True, op_block_list=blocked)
        wrapped = OnnxModel(half)
        wrapped.topological_sort()  # the converter appends the input/output Casts at the end of the graph
        half = wrapped.model
        onnx.checker.check_model(half)
    except Exception as e:
        raise RuntimeError(f"FP16 conversion of {src} failed: {first_line(e)}") from e
    with atomic_path(dst) as tmp:
        onnx.save(half, str(tmp))
    return Path(dst)
