"""The replayable record of a structured pruning, stored in checkpoints as `pruning:`.

A pruned model's shapes cannot be rebuilt from its name alone. We store torch-pruning's own
pruning history (per group: root layer, out/in side, removed channel indices) plus the rewrites
that preceded it, one *session* per pruning run (a model may be pruned twice). `replay` builds the
dependency graph on the freshly created model and re-applies every group in order, checking the
original shapes before and every session's resulting shapes after, so a checkpoint that does not
belong to the model is refused with the first differing tensor named. Only plain lists, ints,
strings and bools are stored: the file still loads with `torch.load(weights_only=True)`.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Any, Iterator

import torch
import torch.nn as nn

from ..models import model_name

FORMAT = "edgecv-pruning"
VERSION = 1


def require_torch_pruning():
    """torch-pruning is the `prune` extra; say how to install it instead of a bare ImportError."""
    try:
        import torch_pruning
    except ImportError:
        raise ImportError("structured pruning needs torch-pruning: pip install 'edgecv[prune]'") from None
    return torch_pruning


@contextmanager
def tracing(model: nn.Module) -> Iterator[None]:
    """torch-pruning traces the graph through autograd: every parameter must require grad meanwhile
    (a frozen model, e.g. a KD teacher, would otherwise trace as an empty graph)."""
    frozen = [p for p in model.parameters() if not p.requires_grad]
    for p in frozen:
        p.requires_grad_(True)
    try:
        with torch.enable_grad():
            yield
    finally:
        for p in frozen:
            p.requires_grad_(False)


def state_shapes(model: nn.Module) -> dict[str, list[int]]:
    return {k: [int(d) for d in v.shape] for k, v in model.state_dict().items()}


def new_history(model: nn.Module) -> dict[str, Any]:
    """A history for `model`, continuing the one it already carries (pruned before) if any."""
    prior = getattr(model, "edgecv_pruning", None)
    if prior:
        return copy.deepcopy(prior)
    tp = require_torch_pruning()

    return {"format": FORMAT, "version": VERSION, "library": "torch-pruning",
            "library_version": getattr(tp, "__version__", "?"), "base_shapes": state_shapes(model), "sessions": []}


def add_session(history: dict, input_shape, rewrites: list[dict], groups: list, model: nn.Module) -> dict:
    """Append one pruning run: torch-pruning's group list as plain data, and the shapes it produced."""
    plain = [[str(name), bool(is_out), [int(i) for i in idxs]] for name, is_out, idxs in groups]
    history["sessions"].append({"input_shape": [int(d) for d in input_shape], "rewrites": list(rewrites),
                                "groups": plain, "shapes": state_shapes(model)})
    return history


def _first_difference(expected: dict, got: dict) -> str | None:
    for name in expected.keys() | got.keys():
        if name not in got:
            return f"'{name}' is missing from the model"
        if name not in expected:
            return f"the model has an unexpected '{name}'"
        if list(expected[name]) != list(got[name]):
            return f"'{name}' has shape {got[name]}, the history expects {expected[name]}"
    return None


def check_format(history: Any) -> dict:
    if not isinstance(history, dict) or history.get("format") != FORMAT:
        raise ValueError("the checkpoint's `pruning` entry is not an edgecv pruning history")
    if int(history.get("version", 0)) > VERSION:
        raise ValueError(f"pruning history version {history['version']} is newer than this edgecv reads ({VERSION}); upgrade edgecv")
    return history


def replay(model: nn.Module, history: dict) -> nn.Module:
    """Re-apply a recorded pruning to a model freshly built from the same spec; returns the model.

    Raises ValueError naming the first tensor that differs when the history belongs to another model.
    """
    tp = require_torch_pruning()

    from .rewrites import refreeze, replay_rewrites

    check_format(history)
    name = model_name(model)
    diff = _first_difference(history["base_shapes"], state_shapes(model))
    if diff:
        raise ValueError(f"this pruning history was recorded on a different model than '{name}': {diff}")
    for i, session in enumerate(history["sessions"], start=1):
        replay_rewrites(model, session.get("rewrites", []))
        example = torch.zeros(*session["input_shape"], device=_device(model))
        with tracing(model):
            graph = tp.DependencyGraph().build_dependency(model, example_inputs=example, verbose=False)
        for root, is_out, idxs in session["groups"]:
            _prune_group(graph, model, root, is_out, idxs, name)
        refreeze(model)
        diff = _first_difference(session["shapes"], state_shapes(model))
        if diff:
            raise ValueError(f"replaying pruning session {i} on '{name}' gives different shapes: {diff}")
    model.edgecv_pruning = copy.deepcopy(history)
    return model


def _prune_group(graph, model: nn.Module, root: str, is_out: bool, idxs: list[int], name: str) -> None:
    try:
        module = model.get_submodule(root)
    except AttributeError:
        raise ValueError(f"pruning history names layer '{root}', which '{name}' does not have") from None
    pruner = graph.get_pruner_of_module(module)
    if pruner is None:
        raise ValueError(f"pruning history prunes layer '{root}' ({type(module).__name__}), which torch-pruning cannot prune")
    channels = pruner.get_out_channels(module) if is_out else pruner.get_in_channels(module)
    if channels is not None and idxs and max(idxs) >= channels:
        raise ValueError(f"pruning history removes channel {max(idxs)} of '{root}', which has only {channels}")
    fn = pruner.prune_out_channels if is_out else pruner.prune_in_channels
    graph.get_pruning_group(module, fn, list(idxs)).prune(record_history=False)


def _device(model: nn.Module) -> torch.device:
    return next(iter(model.parameters()), torch.empty(0)).device


def summary(history: dict | None) -> dict:
    """A short description for reports: sessions, groups pruned, channels removed."""
    if not history:
        return {"sessions": 0, "groups": 0, "channels_removed": 0}
    groups = [g for s in history["sessions"] for g in s["groups"]]
    return {"sessions": len(history["sessions"]), "groups": len(groups), "channels_removed": sum(len(g[2]) for g in groups)}
