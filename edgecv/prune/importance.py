"""Importance criteria by name -> torch-pruning importance objects (the only place that names them)."""
from __future__ import annotations

from typing import Callable, Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F


def build_importance(name: str):
    """l1 / l2: group weight magnitude; bn: BatchNorm scale |gamma|; taylor: |w * dL/dw| (first order)."""
    from .history import require_torch_pruning

    tp = require_torch_pruning()
    if name == "l1":
        return tp.importance.GroupMagnitudeImportance(p=1)
    if name == "l2":
        return tp.importance.GroupMagnitudeImportance(p=2)
    if name == "bn":
        return tp.importance.BNScaleImportance()
    if name == "taylor":
        return tp.importance.GroupTaylorImportance()
    from ..registry import did_you_mean

    raise ValueError(f"unknown importance '{name}'{did_you_mean(name, ['l1', 'l2', 'bn', 'taylor'])}; use l1, l2, bn or taylor")


def needs_gradients(name: str) -> bool:
    return name == "taylor"


def check_importance_fits(name: str, model: nn.Module, model_name: str) -> None:
    """BN-scale importance scores nothing in a model without BatchNorm; say so instead of pruning nothing."""
    if name == "bn" and not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        raise ValueError(f"importance 'bn' needs BatchNorm layers, and '{model_name}' has none; use l1, l2 or taylor")


def accumulate_gradients(model: nn.Module, batches: Iterable, loss_fn: Callable | None = None,
                         device="cpu") -> int:
    """Fill `.grad` for Taylor importance from a few labelled batches; returns the batch count.

    Parameters the loss does not reach (or frozen ones) get zero gradients, so every layer in a group
    has a score to aggregate.
    """
    loss_fn = loss_fn or (lambda logits, y: F.cross_entropy(logits, y))
    was = model.training
    model.eval()  # BN statistics stay as they are; gradients are what we want
    model.zero_grad(set_to_none=True)
    frozen = [p for p in model.parameters() if not p.requires_grad]
    for p in frozen:
        p.requires_grad_(True)
    n = 0
    try:
        with torch.enable_grad():
            for x, y in batches:
                loss_fn(model(x.to(device)), y.to(device)).backward()
                n += 1
    finally:
        for p in frozen:
            p.requires_grad_(False)
        model.train(was)
    if n == 0:
        raise ValueError("importance 'taylor' needs labelled batches (give fine-tune data)")
    for p in model.parameters():
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    return n
