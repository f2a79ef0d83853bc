"""Structured (channel) pruning with torch-pruning, recovered by KD fine-tuning.

    from edgecv.prune import prune_model
    result = prune_model(model, macs_ratio=0.5, steps=3, train_loader=..., val_loader=..., teacher=teacher)
    edgecv.save_model(result.model, "pruned.pt")   # `pruning:` history inside; edgecv.load_model replays it

`edgecv.prune(model, "pruned.pt", macs_ratio=0.5, finetune_data=...)` is the application's workflow
around it (data, loaders, the KD teacher). checkpoint.py registers the `pruning` checkpoint extension
(edgecv.load_plugins() imports it); importances/ holds one file per channel importance.

Everything heavy (torch-pruning, torch) is imported when a function is first used.
"""
from __future__ import annotations

from ..utils.lazy import lazy_getattr

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
