"""Optimiser and a per-step cosine schedule with linear warm-up."""
from __future__ import annotations

import math
from typing import Callable

import torch

from .spec import TrainSpec


def build_optimizer(params, spec: TrainSpec) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    # No weight decay on norms and biases (1-D tensors): the usual ImageNet/CIFAR practice.
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": spec.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if spec.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=spec.lr)
    return torch.optim.SGD(groups, lr=spec.lr, momentum=spec.momentum, nesterov=spec.nesterov and spec.momentum > 0)


def build_scheduler(opt: torch.optim.Optimizer, spec: TrainSpec, steps_per_epoch: int,
                    time_used: Callable[[], float] | None = None):
    """`time_used()` (share of a wall-clock budget spent) makes the cosine follow whichever runs out first,
    steps or time, so a time-boxed run still ends annealed when the machine turns out slower than planned."""
    total = max(1, spec.epochs * steps_per_epoch)
    warmup = int(spec.warmup_epochs * steps_per_epoch)
    floor = spec.min_lr / spec.lr

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        if time_used is not None:
            progress = max(progress, time_used())
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)
