"""The metadata every artifact carries: what it was built from and how to feed it."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

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


def file_metadata(path: str | Path, shape: Sequence, input_dtype: str, embedded: Mapping[str, Any] | None = None,
                  from_file: Iterable[str] = ("input_shape", "layout", "input_dtype"), **fields) -> ArtifactMetadata:
    """What a model file says about its input (a 4-D shape, stored NCHW, and the layout the file has), with
    edgecv's own metadata embedded in the file, if any, for the rest: the file decides `from_file`."""
    from .layout import guess_layout

    shape = list(shape)
    if len(shape) != 4:
        raise ValueError(f"{path}: input has shape {shape}; an image classifier takes a 4-D NCHW or NHWC batch")
    layout = guess_layout(shape)
    if layout == "NHWC":
        shape = [shape[0], shape[3], shape[1], shape[2]]
    meta = ArtifactMetadata(source_model=Path(path).stem, input_shape=shape, layout=layout, input_dtype=input_dtype, **fields)
    keep = set(from_file)
    for key, value in (embedded or {}).items():
        if key in ArtifactMetadata.__dataclass_fields__ and key not in keep:
            setattr(meta, key, value)
    return meta
