"""The PyTorch model an artifact is compared with (`edgecv bench`'s parity reference)."""
from __future__ import annotations

from pathlib import Path


def reference_model(art, reference: str | Path | None = None):
    """The PyTorch model an artifact is compared with: `reference`, or the source `edgecv export` recorded."""
    from ..backends import REFERENCE_BACKEND

    if art.backend == REFERENCE_BACKEND:
        from ..backends.torch.runtime import runtime_of

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
