"""Optimisation settings shared by every stage that trains (train, distill, prune fine-tune, QAT)."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field


class TrainSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    epochs: int = Field(10, ge=0)
    optimizer: Literal["sgd", "adamw"] = "sgd"
    lr: float = Field(0.05, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    nesterov: bool = True
    weight_decay: float = Field(5e-4, ge=0)
    warmup_epochs: float = Field(0.0, ge=0)
    min_lr: float = Field(0.0, ge=0)
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    amp: Literal["auto", "off", "fp16", "bf16"] = "auto"
    channels_last: bool = Field(False, description="train in NHWC memory format (faster convolutions on CPU and "
                                                   "tensor cores, above all with bf16/fp16 AMP)")
    grad_clip: Optional[float] = Field(None, gt=0)
    early_stopping: Optional[int] = Field(None, ge=1, description="stop after N epochs without val top-1 gain")
    max_steps_per_epoch: Optional[int] = Field(None, ge=1, description="cap for quick runs and tests")
