"""Feature ("hint") distillation between named layers, FitNets-style (Romero et al. 2015).

A learned 1x1 conv adapter maps each student feature map to the teacher's channel count; feature
maps of different sizes are pooled to the smaller one. Layers are module paths (e.g. `layer3`,
`blocks.5`); the loss reads them through forward hooks, so it works for any architecture.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from .registry import LOSSES, DistillBatch, DistillLoss


class HintPair(BaseModel):
    model_config = ConfigDict(extra="forbid")
    student: str
    teacher: str


class HintConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pairs: list[HintPair] = Field(..., min_length=1)
    weight: float = Field(1.0, ge=0)
    teacher_index: int = Field(0, ge=0, description="which teacher supplies the hints")


@LOSSES.register("hint")
class HintLoss(DistillLoss):
    Config = HintConfig

    def __init__(self, cfg: HintConfig):
        super().__init__(cfg)
        self.adapters = nn.ModuleList()

    def student_layers(self) -> list[str]:
        return [p.student for p in self.cfg.pairs]

    def teacher_layers(self) -> list[str]:
        return [p.teacher for p in self.cfg.pairs]

    def setup(self, student_features, teacher_features) -> None:
        for p in self.cfg.pairs:
            s, t = student_features[p.student], teacher_features[p.teacher]
            if s.ndim != 4 or t.ndim != 4:
                raise ValueError(f"hint layers must output NCHW feature maps: {p.student} gives {tuple(s.shape)}, {p.teacher} gives {tuple(t.shape)}")
            self.adapters.append(nn.Conv2d(s.shape[1], t.shape[1], 1, bias=False))

    def forward(self, b: DistillBatch) -> torch.Tensor:
        feats_t = b.teacher_features[self.cfg.teacher_index]
        total = b.student_logits.new_zeros(())
        for adapter, p in zip(self.adapters, self.cfg.pairs):
            s, t = adapter(b.student_features[p.student]), feats_t[p.teacher].detach()
            size = min(s.shape[-1], t.shape[-1]), min(s.shape[-2], t.shape[-2])
            s, t = F.adaptive_avg_pool2d(s, size[::-1]), F.adaptive_avg_pool2d(t, size[::-1])
            total = total + F.mse_loss(s, t)
        return self.cfg.weight * total / len(self.adapters)
