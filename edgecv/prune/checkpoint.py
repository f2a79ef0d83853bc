"""Registers `pruning` as a checkpoint extension: a pruned model's file carries its history, and
loading it replays the history on a fresh model so the pruned shapes come back before the weights."""
from __future__ import annotations

from ..models.extensions import CheckpointExtension, register_checkpoint_extension


def _save(model):
    return getattr(model, "edgecv_pruning", None)


def _load(model, history):
    from .history import replay  # torch-pruning is needed only when a pruned file is loaded

    return replay(model, history)


PRUNING = register_checkpoint_extension(
    CheckpointExtension("pruning", _save, _load))
