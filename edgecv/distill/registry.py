"""Distillation losses, registered by name; a new loss is one file with a config and a class.

A loss gets a `DistillBatch` (student/teacher logits, hooked features, targets) and returns a
scalar. Losses that need learned parts (hint adapters) build them in `setup(...)`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn
from pydantic import BaseModel

from ..registry import Registry


@dataclass
class DistillBatch:
    student_logits: torch.Tensor
    teacher_logits: list[torch.Tensor]  # one per teacher
    targets: torch.Tensor
    student_features: dict[str, torch.Tensor] = field(default_factory=dict)
    teacher_features: list[dict[str, torch.Tensor]] = field(default_factory=list)


class DistillLoss(nn.Module):
    """Base: subclasses set `Config` and implement forward(batch) -> scalar tensor."""

    Config: type[BaseModel]

    def __init__(self, cfg: BaseModel):
        super().__init__()
        self.cfg = cfg

    def student_layers(self) -> list[str]:
        return []

    def teacher_layers(self) -> list[str]:
        return []

    def setup(self, student_features: dict[str, torch.Tensor], teacher_features: dict[str, torch.Tensor]) -> None:
        """Called once with features from a sample batch (for shape-dependent parts)."""


# One line per loss module; loaded on the registry's first look-up.
LOSS_MODULES = ("kd", "hint")
LOSSES: Registry[type[DistillLoss]] = Registry("distillation loss", plugins=[f"edgecv.distill.{m}" for m in LOSS_MODULES])


def validate_loss_config(item: dict[str, Any]) -> dict[str, Any]:
    """Check one `{name: ..., ...}` entry against its loss's config; raises ValueError with the key."""
    from pydantic import ValidationError

    if not isinstance(item, dict) or "name" not in item:
        raise ValueError(f"each loss needs a `name` ({', '.join(LOSSES.names())})")
    cls = LOSSES.get(item["name"]) if item["name"] in LOSSES else None
    if cls is None:
        from ..registry import did_you_mean

        raise ValueError(f"unknown loss '{item['name']}'{did_you_mean(item['name'], LOSSES.names())}; known: {', '.join(LOSSES.names())}")
    try:
        cls.Config.model_validate({k: v for k, v in item.items() if k != "name"})
    except ValidationError as e:
        errs = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
        raise ValueError(f"loss '{item['name']}': {errs}") from None
    return item
