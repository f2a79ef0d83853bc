"""The metadata every artifact carries: what it was built from and how to feed it."""
from __future__ import annotations

from typing import Any, Iterable

from ..backends.base import ArtifactMetadata


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed versions (without importing the packages); missing ones are left out."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            if n == "edgecv":  # run from a checkout, not installed
                from .. import __version__

                out[n] = __version__
    return out


def artifact_metadata(model, sample, precision: str, tools: Iterable[str] = ("torch",), **overrides: Any) -> ArtifactMetadata:
    """Metadata from the model's edgecv spec and timm data config; `overrides` win (mean, std, class_names...)."""
    spec = getattr(model, "edgecv_spec", None) or {}
    meta = ArtifactMetadata(
        source_model=spec.get("name") or type(model).__name__,
        input_shape=["batch", *[int(d) for d in tuple(sample.shape)[1:]]],
        precision=precision,
        tool_versions=package_versions(("edgecv", *tools)),
    )
    preprocess = getattr(model, "edgecv_preprocess", None) or {}  # set by callers that know the run's data
    try:
        from ..models import data_config

        cfg = data_config(model)
        meta.mean, meta.std = [float(v) for v in cfg["mean"]], [float(v) for v in cfg["std"]]
    except Exception:  # not a timm-style model: keep the ImageNet defaults
        pass
    for key, value in {**preprocess, **overrides}.items():
        if value is None:
            continue
        if key in ArtifactMetadata.__dataclass_fields__:
            setattr(meta, key, list(value) if isinstance(value, tuple) else value)
        else:
            meta.extra[key] = value
    if spec:
        meta.extra.setdefault("spec", spec)
    return meta
