"""What an edgecv model file says about itself: input shape, preprocessing, class names, the runtime it
was built to run with, params and MACs."""
from __future__ import annotations

from pathlib import Path

from ..base import ArtifactMetadata
from .runtime import RUNTIME_KEY, runtime_of


def read_metadata(path: str | Path) -> ArtifactMetadata:
    from ...models import data_config, load_model_file, model_name
    from ...utils.profile import count_macs, count_params

    model, ckpt = load_model_file(path)
    saved = ckpt.get("data_config") or {}
    cfg = {**data_config(model), **saved}
    size = int(cfg["input_size"][-1])
    meta = ArtifactMetadata(source_model=model_name(model), input_shape=["batch", 3, size, size],
                            mean=[float(v) for v in cfg["mean"]], std=[float(v) for v in cfg["std"]],
                            class_names=ckpt.get("class_names"))
    if isinstance(ckpt.get(RUNTIME_KEY), dict):  # how the file was built to run
        meta.extra[RUNTIME_KEY] = dict(ckpt[RUNTIME_KEY])
        meta.precision = runtime_of(meta).precision
    meta.extra["params"] = count_params(model)
    try:
        meta.extra["macs"] = count_macs(model, (1, 3, size, size))
    except Exception:  # a model the flop counter cannot trace still gets its params
        meta.extra["macs"] = None
    return meta
