"""Hinton et al. (2015) logit distillation; with several teachers, their logits are averaged."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from .registry import LOSSES, DistillBatch, DistillLoss


class KDConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    temperature: float = Field(4.0, gt=0)
    alpha: float = Field(0.9, ge=0, le=1, description="weight of the soft (teacher) term; 1-alpha goes to hard labels")
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    weight: float = Field(1.0, ge=0)


@LOSSES.register("kd")
class LogitKD(DistillLoss):
    Config = KDConfig

    def forward(self, b: DistillBatch) -> torch.Tensor:
        c = self.cfg
        t = c.temperature
        teacher = torch.stack(b.teacher_logits).mean(0)
        soft = F.kl_div(F.log_softmax(b.student_logits / t, 1), F.log_softmax(teacher / t, 1),
                        reduction="batchmean", log_target=True) * t * t
        hard = F.cross_entropy(b.student_logits, b.targets, label_smoothing=c.label_smoothing)
        return c.weight * (c.alpha * soft + (1 - c.alpha) * hard)
