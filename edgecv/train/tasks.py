"""Training tasks: a module whose forward(x, y) returns (loss, logits).

The loop only sees tasks, so plain training, distillation and QAT share one loop; a task's
trainable parameters are whatever in it has requires_grad (frozen teachers are excluded).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class ClassificationTask(nn.Module):
    def __init__(self, model: nn.Module, label_smoothing: float = 0.0):
        super().__init__()
        self.model = model
        self.label_smoothing = label_smoothing

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.model(x)
        return F.cross_entropy(logits, y, label_smoothing=self.label_smoothing), logits
