"""Structured (channel) pruning with torch-pruning, recovered by KD fine-tuning.

    import edgecv.prune
    result = edgecv.prune.prune_model(model, macs_ratio=0.5, steps=3, train_loader=..., val_loader=...,
                                      teacher=teacher)
    edgecv.save_model(result.model, "pruned.pt")   # `pruning:` history inside; load_model replays it

Everything heavy (torch-pruning, torch) is imported when a function is first used.
"""
from __future__ import annotations

from ..utils.lazy import lazy_getattr
from . import checkpoint as _checkpoint  # noqa: F401  (registers the `pruning` checkpoint extension)

_LAZY = {
    "prune_model": ("iterative", "prune_model"),
    "PruneResult": ("iterative", "PruneResult"),
    "PruneSpec": ("spec", "PruneSpec"),
    "SensitivitySpec": ("spec", "SensitivitySpec"),
    "ChannelPruner": ("pruner", "ChannelPruner"),
    "PruneError": ("pruner", "PruneError"),
    "replay": ("history", "replay"),
    "scan_sensitivity": ("sensitivity", "scan_sensitivity"),
    "ratios_from_scan": ("sensitivity", "ratios_from_scan"),
    "write_scan": ("sensitivity", "write_scan"),
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = list(_LAZY)


class _CallableModule(__import__("types").ModuleType):
    def __call__(self, model, spec=None, **options):
        """`edgecv.prune(model, ...)` is `edgecv.prune.prune_model(model, ...)`."""
        return self.prune_model(model, spec, **options)


__import__("sys").modules[__name__].__class__ = _CallableModule
