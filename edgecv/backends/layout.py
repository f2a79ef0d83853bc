"""Adapt the runner contract (NCHW float32, normalised) to what an artifact's input really expects.

Files made elsewhere may take NHWC and/or raw uint8/int8 pixels. Their runners still receive
normalised NCHW float32 batches; this converts using the artifact's layout, dtype, mean and std, so
every backend is timed and evaluated on the same inputs.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

LAYOUTS = ("NCHW", "NHWC")


def guess_layout(shape: Sequence) -> str:
    """NCHW unless the last dim looks like channels (1 or 3) and dim 1 does not."""
    if len(shape) != 4:
        raise ValueError(f"expected a 4-D image input (NCHW or NHWC), got shape {list(shape)}")
    c_first, c_last = shape[1], shape[3]
    if c_last in (1, 3) and c_first not in (1, 3):
        return "NHWC"
    return "NCHW"


def input_adapter(layout: str = "NCHW", dtype: str = "float32", mean=None, std=None) -> Callable[[np.ndarray], np.ndarray] | None:
    """A function NCHW float32 (normalised) -> the file's input, or None when no change is needed."""
    layout = layout.upper()
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout '{layout}'; use one of {', '.join(LAYOUTS)}")
    dtype = np.dtype(dtype)
    steps: list[Callable[[np.ndarray], np.ndarray]] = []
    if dtype.kind in "ui":
        # Integer inputs take raw pixels: undo the normalisation, then scale [0, 1] -> [0, 255].
        m = np.asarray(mean if mean is not None else (0.0, 0.0, 0.0), np.float32).reshape(1, -1, 1, 1)
        s = np.asarray(std if std is not None else (1.0, 1.0, 1.0), np.float32).reshape(1, -1, 1, 1)
        info = np.iinfo(dtype)
        offset = 128.0 if dtype.kind == "i" else 0.0  # int8 pixel inputs are uint8 shifted by -128
        steps.append(lambda x: np.clip(np.rint((x * s + m) * 255.0) - offset, info.min, info.max).astype(dtype))
    elif dtype != np.float32:
        steps.append(lambda x: x.astype(dtype))
    if layout == "NHWC":
        steps.append(lambda x: np.ascontiguousarray(x.transpose(0, 2, 3, 1)))
    if not steps:
        return None

    def adapt(x: np.ndarray) -> np.ndarray:
        for f in steps:
            x = f(x)
        return x

    return adapt
