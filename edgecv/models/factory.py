"""The one way in: `create_model(name, ...)` for teachers and students, plus checkpoint I/O.

Every model is built through timm's registry (CIFAR ResNets and SqueezeNet are registered there by
this package), so a user names any timm model or ours the same way.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..utils.errors import first_line
from ..utils.io import torch_save
from .describe import data_config, model_name
from .extensions import CHECKPOINT_EXTENSIONS
from .small_input import adapt_to_small_input
from .spec import ENSEMBLE

CHECKPOINT_FORMAT = "edgecv-model"
# Where the extensions edgecv itself ships come from, for files loaded before the plugins are.
_EXTENSION_PROVIDERS = {"pruning": " (pip install 'edgecv[prune]')"}
# edgecv's own model families, registered in timm's registry (one module each, one line here); imported
# by `load_model_families` before any name is looked up.
MODEL_FAMILIES = ("cifar_resnet", "squeezenet", "cifar_mobile")
_families_loaded = False


def load_model_families() -> None:
    """Register cifar_resnet*, squeezenet1_*, cifar_mobilenet* ... with timm (once)."""
    global _families_loaded
    if not _families_loaded:
        from importlib import import_module

        for family in MODEL_FAMILIES:
            import_module(f"{__package__}.{family}")
        _families_loaded = True


def model_exists(name: str) -> bool:
    """Whether `name` is a model create_model builds (any timm model, edgecv's families, the ensemble)."""
    import timm

    load_model_families()
    return name == ENSEMBLE or timm.is_model(name)


def model_names() -> list[str]:
    """Every name create_model builds (for did-you-mean messages)."""
    import timm

    load_model_families()
    return [*timm.list_models(), ENSEMBLE]


def create_model(
    name: str,
    num_classes: int | None = None,
    pretrained: bool = False,
    checkpoint: str | Path | None = None,
    small_input: bool = False,
    **kwargs: Any,
) -> nn.Module:
    """Build a registered model; optionally load a local checkpoint (weights_only=True).

    `name="ensemble"` takes `members` (a list of model specs: name, checkpoint, ...) and optional
    `weights`, and averages the members' logits (models/ensemble.py)."""
    import timm

    if name == ENSEMBLE:
        return _create_ensemble(num_classes, pretrained, checkpoint, small_input, **kwargs)
    if not model_exists(name):
        from ..registry import did_you_mean

        raise KeyError(
            f"unknown model '{name}'{did_you_mean(name, model_names())}; "
            "any timm model name, cifar_resnet8/14/20/32/44/56, squeezenet1_0/1_1 or ensemble (with members) works"
        )
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    model = timm.create_model(name, pretrained=pretrained, **kwargs)
    if small_input:
        model = adapt_to_small_input(model, name)
    model.edgecv_spec = {  # what is needed to rebuild this architecture
        "name": name,
        "num_classes": num_classes if num_classes is not None else _num_classes(model),
        "small_input": bool(small_input),
        "kwargs": kwargs | ({"num_classes": num_classes} if num_classes is not None else {}),
    }
    if checkpoint is not None:
        load_weights(model, checkpoint)
    return model


def _create_ensemble(num_classes, pretrained, checkpoint, small_input, members=None, weights=None, **kwargs) -> nn.Module:
    from .ensemble import build_ensemble

    own = [k for k, v in (("pretrained", pretrained), ("small_input", small_input), *kwargs.items()) if v]
    if own:
        raise ValueError(f"model '{ENSEMBLE}' takes members and weights; {', '.join(own)} belong to its members")
    model = build_ensemble(members or [], weights, num_classes, create_model)
    if checkpoint is not None:  # an edgecv file of a whole ensemble (e.g. a run's teacher.pt)
        load_weights(model, checkpoint)
    return model


def _num_classes(model: nn.Module) -> int | None:
    return getattr(model, "num_classes", None)


def read_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint file safely and return it as a dict."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    import warnings

    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the error below says it all
            warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\._weights_only_unpickler")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle errors, truncated files, non-torch files
        raise ValueError(_unreadable(path, e)) from None
    if not isinstance(ckpt, dict):
        raise ValueError(f"checkpoint {path} holds a {type(ckpt).__name__}, expected a dict of tensors")
    return ckpt


def _unreadable(path: Path, e: Exception) -> str:
    """Why a file could not be loaded with weights_only=True, in edgecv's words: PyTorch's own message
    advises weights_only=False (arbitrary code execution), which must never reach a user."""
    import re

    text = str(e)
    if "weights_only" in text or "Weights only load failed" in text:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
        if found:
            return (f"cannot read checkpoint {path}: it is not a weights-only checkpoint edgecv can load safely "
                    f"(it holds pickled Python objects, e.g. {found[1]}); save the weights with "
                    "torch.save(model.state_dict(), FILE) or edgecv.save_model")
        return (f"cannot read checkpoint {path}: it is not a weights-only checkpoint edgecv can load safely "
                "(not a PyTorch weights file, or a damaged one)")
    return f"cannot read checkpoint {path}: {first_line(e, 10_000)}"


def extract_state_dict(ckpt: dict) -> dict[str, torch.Tensor]:
    """Find the state dict inside the usual checkpoint layouts and strip DDP's `module.` prefix."""
    for key in ("state_dict", "model", "model_state_dict", "ema"):
        if key in ckpt and isinstance(ckpt[key], dict):
            ckpt = ckpt[key]
            break
    return {k.removeprefix("module."): v for k, v in ckpt.items() if isinstance(v, torch.Tensor)}


def load_weights(model: nn.Module, checkpoint: str | Path, strict: bool = True) -> nn.Module:
    state = extract_state_dict(read_checkpoint(checkpoint))
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError:
        from .mismatch import mismatch_summary

        name = model_name(model)
        raise ValueError(f"checkpoint {checkpoint} does not match model '{name}': "
                         f"{mismatch_summary(model, state, name)}") from None
    return model


def save_model(model: nn.Module, path: str | Path, extra: dict | None = None) -> Path:
    """Save weights plus the spec needed to rebuild the model (atomic).

    `extra` may carry `class_names`, `data_config` or metrics. Registered checkpoint extensions add
    their own entries (e.g. `pruning`, a replayable history `load_model_file` applies before the weights).
    """
    spec = getattr(model, "edgecv_spec", None)
    if spec is None:
        raise ValueError("model was not built by edgecv.create_model; its spec is unknown")
    # state a higher layer put on the model (`edgecv_<key>`) is saved only by its extension: refuse
    # rather than write a file that cannot rebuild the model
    orphans = [k[len("edgecv_"):] for k in vars(model) if k.startswith("edgecv_") and k != "edgecv_spec"
               and getattr(model, k) is not None and k[len("edgecv_"):] not in CHECKPOINT_EXTENSIONS]
    if orphans:
        raise ValueError(f"the model carries {', '.join('edgecv_' + k for k in orphans)}, whose checkpoint extension "
                         f"is not loaded, so {path} could not rebuild it: call edgecv.load_plugins() first")
    payload = {"format": CHECKPOINT_FORMAT, "version": 1, "spec": spec, "state_dict": model.state_dict()}
    used = []
    for key in CHECKPOINT_EXTENSIONS.names():  # e.g. `pruning`, replayed by load_model_file to rebuild shapes
        value = CHECKPOINT_EXTENSIONS.get(key).save(model)
        if value:
            payload[key] = value
            used.append(key)
    payload.update(extra or {})
    payload["extensions"] = sorted(set(used) | {k for k in (extra or {}) if k in CHECKPOINT_EXTENSIONS})
    return torch_save(payload, path)


def load_model_file(path: str | Path) -> tuple[nn.Module, dict]:
    """Rebuild a model saved by `save_model`; returns (model, checkpoint dict without weights). The
    front door, `edgecv.load_model`, also takes names and run folders, and loads every plugin first."""
    ckpt = read_checkpoint(path)
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} is not an edgecv model file (no spec inside); "
            "pass --model NAME together with --checkpoint for a plain state dict"
        )
    spec = ckpt["spec"]
    kwargs = dict(spec.get("kwargs", {}))
    kwargs.pop("num_classes", None)
    model = create_model(spec["name"], num_classes=spec.get("num_classes"), small_input=spec.get("small_input", False), **kwargs)
    # Files written before `extensions` was recorded name their pruning history only by its key.
    for key in ckpt.get("extensions") or (["pruning"] if ckpt.get("pruning") else []):
        if key not in CHECKPOINT_EXTENSIONS:
            raise ValueError(f"{path} needs the '{key}' checkpoint extension, which is not loaded: use "
                             f"edgecv.load_model, or call edgecv.load_plugins() first{_EXTENSION_PROVIDERS.get(key, '')}")
        model = CHECKPOINT_EXTENSIONS.get(key).load(model, ckpt[key])
        model.edgecv_spec = spec
    try:
        model.load_state_dict(ckpt["state_dict"], strict=True)
    except RuntimeError:
        from .mismatch import mismatch_summary

        raise ValueError(f"{path}: weights do not match the recorded architecture '{spec['name']}': "
                         f"{mismatch_summary(model, ckpt['state_dict'], spec['name'])}") from None
    meta = {k: v for k, v in ckpt.items() if k != "state_dict"}
    return model, meta
