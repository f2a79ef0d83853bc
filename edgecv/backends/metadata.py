"""The metadata every artifact carries: what it was built from and how to feed it."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..utils.versions import package_versions
from .base import ArtifactMetadata


def artifact_metadata(model, sample, precision: str, tools: Iterable[str] = ("torch",),
                      preprocess: Mapping[str, Any] | None = None) -> ArtifactMetadata:
    """Metadata from the model's edgecv spec and timm data config; `preprocess` (mean, std,
    class_names: what the run's data used) wins over the model's defaults."""
    from ..models import data_config, model_name

    spec = getattr(model, "edgecv_spec", None) or {}
    meta = ArtifactMetadata(
        source_model=model_name(model),
        input_shape=["batch", *[int(d) for d in tuple(sample.shape)[1:]]],
        precision=precision,
        tool_versions=package_versions(("edgecv", *tools)),
    )
    try:
        cfg = data_config(model)
        meta.mean, meta.std = [float(v) for v in cfg["mean"]], [float(v) for v in cfg["std"]]
    except Exception:  # not a timm-style model: keep the ImageNet defaults
        pass
    for key, value in (preprocess or {}).items():
        if value is None:
            continue
        if key in ArtifactMetadata.__dataclass_fields__:
            setattr(meta, key, list(value) if isinstance(value, tuple) else value)
        else:
            meta.extra[key] = value
    if spec:
        meta.extra.setdefault("spec", spec)
    return meta
