"""Checkpoint extensions: state that higher layers add to an edgecv model file and replay on load.

The pruning layer registers `pruning` (a replayable torch-pruning history): `save` reads it off the
model, `load` rebuilds the pruned shapes on a fresh model before its weights are loaded. The models
layer only calls what is registered, so it never imports the layers above it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..registry import Registry


@dataclass(frozen=True)
class CheckpointExtension:
    key: str  # the checkpoint entry it owns
    save: Callable[[Any], Any]  # model -> value to store, or None for nothing
    load: Callable[[Any, Any], Any]  # (fresh model, stored value) -> model with the right shapes


CHECKPOINT_EXTENSIONS: Registry[CheckpointExtension] = Registry("checkpoint extension")


def register_checkpoint_extension(ext: CheckpointExtension) -> CheckpointExtension:
    if ext.key not in CHECKPOINT_EXTENSIONS:
        CHECKPOINT_EXTENSIONS.register(ext.key, ext)
    return ext
