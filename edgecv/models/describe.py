"""What edgecv knows about a built model: the name it was registered under and its input config."""
from __future__ import annotations


def model_name(model) -> str:
    """The registered name edgecv built the model under, else its class name."""
    return (getattr(model, "edgecv_spec", None) or {}).get("name") or type(model).__name__


def data_config(model) -> dict:
    """timm's input config for a model: input_size, mean, std, interpolation, crop_pct."""
    from timm.data import resolve_model_data_config

    cfg = resolve_model_data_config(model)
    return {k: cfg[k] for k in ("input_size", "mean", "std", "interpolation", "crop_pct") if k in cfg}
