"""`open_artifact`: any model file with its metadata (edgecv's sidecar, else read from the file),
checked loadable, with user overrides for files that do not describe themselves."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence


def open_artifact(path: str | Path, backend: str | None = None, layout: str | None = None,
                  mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                  size: int | None = None):
    """The Artifact, validated by its backend (loadable, one 4-D image input). `layout`, `mean`,
    `std` and `size` override what the file says (for foreign files that carry no preprocessing)."""
    from ..backends import BACKENDS, Artifact

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


def reference_model(art, reference: str | Path | None = None):
    """The PyTorch model an artifact is compared with: `reference`, or the source `edgecv export` recorded."""
    from ..backends import REFERENCE_BACKEND

    if art.backend == REFERENCE_BACKEND:
        from ..backends.torch_runtime import runtime_of

        if runtime_of(art.metadata).reference:
            return None  # it is the reference
        if not reference:  # the same file run on a GPU, at fp16/bf16, ...: compared with itself in eager CPU FP32
            from .models import load_model

            return load_model(checkpoint=art.path).model
    path = reference or art.metadata.extra.get("source_checkpoint")
    if not path:
        return None
    if not Path(path).is_file():
        if reference:
            raise FileNotFoundError(f"reference model {path} not found")
        return None  # the recorded source moved: benchmark without parity
    from ..models.factory import CHECKPOINT_FORMAT, read_checkpoint
    from .models import load_model

    spec = art.metadata.extra.get("spec")
    if read_checkpoint(path).get("format") != CHECKPOINT_FORMAT and spec and not reference:
        # a plain state dict exported with --model: rebuild the same architecture from the recorded spec
        from ..models import create_model

        kwargs = {k: v for k, v in spec.get("kwargs", {}).items() if k != "num_classes"}
        return create_model(spec["name"], num_classes=spec.get("num_classes"), checkpoint=path,
                            small_input=spec.get("small_input", False), **kwargs).eval()
    return load_model(checkpoint=path).model
