"""A torch artifact is an edgecv model file (weights + spec, so `load_model` rebuilds it) with the
run-time settings recorded in the file and in the sidecar."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..base import Artifact
from ..metadata import artifact_metadata
from .runner import check_cpu_half
from .runtime import RUNTIME_KEY, parse_runtime


def save_model_file(model, sample, precision: str, out_dir: Path, options: Mapping[str, Any], backend: str) -> Artifact:
    """Save `model` to run at `precision` with the runtime `options`; fp16 for the CPU is tried first."""
    from ...models import save_model

    rt = parse_runtime(precision, options)
    if rt.precision == "fp16" and not rt.cuda:
        check_cpu_half(model, tuple(int(d) for d in tuple(sample.shape)[1:]))
    meta = artifact_metadata(model, sample, precision, preprocess=options.get("preprocess"))
    meta.extra[RUNTIME_KEY] = rt.record()
    path = Path(out_dir) / f"{meta.source_model}-{precision}.pt"
    save_model(model, path, {"class_names": meta.class_names, RUNTIME_KEY: rt.record()})
    art = Artifact(path, backend, meta)
    art.save_metadata()
    return art
