"""`open_artifact`: any model file with its metadata (edgecv's sidecar, else read from the file),
checked loadable, with user overrides for files that do not describe themselves. The front door
(`edgecv.open_artifact`) is this function; the harness and the quantizer open users' files with it too."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence


def open_artifact(path: str | Path, backend: str | None = None, layout: str | None = None,
                  mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                  size: int | None = None):
    """The Artifact, validated by its backend (loadable, one 4-D image input). `layout`, `mean`,
    `std` and `size` override what the file says (for foreign files that carry no preprocessing)."""
    from .base import BACKENDS, Artifact

    art = Artifact.from_path(path, backend)
    b = BACKENDS.get(art.backend)
    ok, why = b.available()
    if not ok:
        raise ImportError(f"backend '{art.backend}' is not available here: {why}")
    seen = b.inspect(art.path)  # also validates the file for every artifact
    if not art.sidecar().is_file():
        art.metadata = seen
    meta = art.metadata
    if layout and layout != meta.layout:  # the detection guessed wrong: reorder the stored NCHW shape
        n, a, b_, c = meta.input_shape
        meta.input_shape = [n, c, a, b_] if layout == "NHWC" else [n, b_, c, a]
        meta.layout = layout
    if mean:
        meta.mean = list(mean)
    if std:
        meta.std = list(std)
    if size:
        meta.input_shape = [meta.input_shape[0], meta.input_shape[1] if isinstance(meta.input_shape[1], int) else 3, size, size]
    if any(not isinstance(d, int) for d in meta.input_shape[1:]):
        raise ValueError(f"{path}: input shape {meta.input_shape} has symbolic dims; give its size (--size) and layout")
    return art
