"""Accuracy metrics of a model (or any logits function) over a loader."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .logits import topk_indices


@torch.no_grad()
def collect_logits(model: torch.nn.Module | Callable, loader, device="cpu") -> tuple[np.ndarray, np.ndarray]:
    """All logits and targets of `loader`: (N, C) float32, (N,) int64."""
    if isinstance(model, torch.nn.Module):
        model.eval()
    logits, targets = [], []
    for x, y in loader:
        out = model(x.to(device))
        logits.append(out.float().cpu().numpy())
        targets.append(np.asarray(y))
    return np.concatenate(logits), np.concatenate(targets).astype(np.int64)


def accuracy_metrics(logits: np.ndarray, targets: np.ndarray, num_classes: int | None = None) -> dict:
    """top1/top5 (percent), per-class accuracy and the confusion matrix (rows: true, cols: predicted)."""
    n, c = logits.shape
    num_classes = num_classes or c
    order = topk_indices(logits, 5)
    top1 = order[:, 0]
    hit5 = (order == targets[:, None]).any(axis=1)
    conf = np.zeros((num_classes, max(num_classes, c)), dtype=np.int64)
    np.add.at(conf, (targets, top1), 1)
    conf = conf[:, :num_classes] if c >= num_classes else conf
    support = conf.sum(axis=1)
    per_class = np.divide(np.diag(conf), support, out=np.zeros(num_classes), where=support > 0) * 100
    return {
        "top1": float((top1 == targets).mean() * 100) if n else 0.0,
        "top5": float(hit5.mean() * 100) if n else 0.0,
        "per_class": per_class.round(2).tolist(),
        "confusion": conf,
        "n": int(n),
    }


def evaluate(model, loader, device="cpu", num_classes: int | None = None) -> dict:
    logits, targets = collect_logits(model, loader, device)
    return accuracy_metrics(logits, targets, num_classes)
