"""Optimisation settings shared by every stage that trains (train, distill, prune fine-tune, QAT)."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


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
    mixup: float = Field(0.0, ge=0, description="mixup Beta(alpha, alpha) (0: off); under KD the teachers label "
                                                "the mixed images, which gives a small train set far more targets")
    cutmix: float = Field(0.0, ge=0, description="CutMix Beta(alpha, alpha) (0: off); with mixup too, each batch "
                                                 "picks one of the two at random")
    mix_prob: float = Field(1.0, ge=0, le=1, description="share of batches that are mixed when mixup/cutmix is on")
    time_limit_min: Optional[float] = Field(None, gt=0, description="wall-clock budget: the cosine anneals by the "
                                            "larger of steps done and time used, and training ends when time is up "
                                            "(time-boxed benchmarks; results then depend on machine speed)")
    threads: Optional[int] = Field(None, ge=1, description="torch intra-op threads while training (default: torch's "
                                   "own); 1 is about as fast for small models and does not collapse when other "
                                   "processes share the cores")
    keep: Literal["best", "last"] = Field("best", description="weights kept at the end: the best val epoch, or the "
                                                               "last (val then only reports, and may be left out)")

    @field_validator("amp", mode="before")
    @classmethod
    def _yaml_off(cls, v):
        # YAML 1.1 (yaml.safe_load, recipes and --set alike) reads a bare `off` as False
        return "off" if v is False else v

    @model_validator(mode="after")
    def _early_stopping_needs_best(self):
        if self.early_stopping and self.keep == "last":
            raise ValueError("early_stopping picks epochs by val top-1: it needs keep: best, not keep: last")
        return self
