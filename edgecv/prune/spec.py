"""What to prune and how far: the `prune` stage's keys and the `prune_model(...)` options, validated.

Exactly one target: `macs_ratio`, `params_ratio` (pruned / original, strictly between 0 and 1), or
`latency_ms` (p50 on `backend` with `threads`). Recipes never see torch-pruning's own API.
"""
from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..train.spec import TrainSpec

def check_ratio(value: float, what: str) -> float:
    """A pruning ratio must lie strictly between 0 and 1; anything else is a user error."""
    if value is None:
        return value
    if not 0.0 < float(value) < 1.0:
        raise ValueError(f"{what} must be > 0 and < 1 (got {value})")
    return float(value)


TARGETS = ("macs_ratio", "params_ratio", "latency_ms", "latency_ratio")


class FinetuneSpec(TrainSpec):
    """Fine-tuning after each pruning step (with KD when a teacher is given)."""

    model_config = ConfigDict(extra="forbid")
    epochs: int = Field(1, ge=0, description="epochs after each pruning step (0: no fine-tune)")
    lr: float = Field(0.01, gt=0)


class SensitivitySpec(BaseModel):
    """Per-group scan: prune one group at a time at each ratio and measure the val top-1 drop."""

    model_config = ConfigDict(extra="forbid")
    ratios: list[float] = Field(default_factory=lambda: [0.25, 0.5, 0.75], min_length=1)
    max_images: int = Field(1000, ge=1, description="val images used per measurement")
    max_drop: float = Field(1.0, ge=0, description="top-1 points a group may lose at its chosen ratio")
    apply: bool = Field(True, description="turn the scan into per-layer ratios for the pruning run")

    @field_validator("ratios")
    @classmethod
    def _ratios(cls, v):
        return sorted(check_ratio(r, "sensitivity.ratios entries") for r in v)


class PruneSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # target (exactly one)
    macs_ratio: Optional[float] = Field(None, description="stop when MACs <= ratio x the original")
    params_ratio: Optional[float] = Field(None, description="stop when params <= ratio x the original")
    latency_ms: Optional[float] = Field(None, gt=0, description="stop when p50 latency on `backend` <= this")
    latency_ratio: Optional[float] = Field(None, gt=0, lt=1, description="stop when p50 on `backend` <= this x the "
                                           "unpruned model's p50 there, both measured by this stage (no ms to guess "
                                           "for a machine, and no comparison across processes)")
    backend: str = Field("onnxruntime", description="where latency is measured (target and per-step report)")
    threads: int = Field(2, ge=1, description="backend threads for latency measurement")
    # how channels are chosen
    importance: str = Field("l2", description="channel importance, a registered strategy (edgecv/prune/importances/): "
                            "l1, l2 (weight magnitude), bn (BatchNorm scale), taylor (first-order, needs labelled data)")
    allocation: Literal["uniform", "global"] = Field(
        "uniform", description="uniform: every group loses the same fraction; global: rank channels across groups")
    round_to: Optional[int] = Field(None, ge=1, description="keep channel counts multiples of this (e.g. 8)")
    max_layer_ratio: float = Field(0.9, description="no group loses more than this fraction of its channels")
    ignore: list[str] = Field(default_factory=list, description="layers never pruned (the classifier always is)")
    layer_ratios: dict[str, float] = Field(
        default_factory=dict, description="per-layer ratios the schedule reaches at its end (non-uniform pruning)")
    sensitivity: Optional[SensitivitySpec] = None
    taylor_batches: int = Field(4, ge=1, description="batches whose gradients feed Taylor importance")
    # schedule
    steps: int = Field(1, ge=1, le=100, description="iterative steps, each followed by a fine-tune")
    min_macs_ratio: float = Field(0.05, description="latency mode: never prune below this MACs ratio")
    max_step_cut: float = Field(0.5, description="latency mode: no step removes more than this share of the MACs "
                                "left (MACs are not latency: a long step aimed by a fit can overshoot the target)")
    finetune: FinetuneSpec = Field(default_factory=FinetuneSpec)
    final_epochs: int = Field(0, ge=0, description="extra fine-tune epochs after the last step")
    bn_recalibration_batches: int = Field(
        20, ge=0, description="re-estimate BatchNorm statistics on this many train batches after each step (0: off)")
    kd_losses: list[dict[str, Any]] = Field(
        default_factory=lambda: [{"name": "kd", "temperature": 4.0, "alpha": 0.9}])
    measure_latency: bool = Field(True, description="time every step on `backend` (MACs are not latency)")
    max_val_images: Optional[int] = Field(None, ge=1, description="cap val images for per-step accuracy")

    @field_validator("importance")
    @classmethod
    def _registered_importance(cls, v):
        from .importance import importance

        importance(v)  # an unknown name raises with a did-you-mean and the known ones
        return v

    @field_validator("macs_ratio", "params_ratio")
    @classmethod
    def _target_ratio(cls, v, info):
        return check_ratio(v, info.field_name)

    @field_validator("max_layer_ratio", "min_macs_ratio", "max_step_cut")
    @classmethod
    def _bound_ratio(cls, v, info):
        return check_ratio(v, info.field_name)

    @field_validator("layer_ratios")
    @classmethod
    def _layer_ratios(cls, v):
        return {k: check_ratio(r, f"layer_ratios.{k}") if r != 0 else 0.0 for k, r in v.items()}

    @field_validator("kd_losses")
    @classmethod
    def _losses(cls, v):
        from ..distill.registry import validate_loss_config

        return [validate_loss_config(item) for item in v]

    @model_validator(mode="after")
    def _one_target(self):
        given = [k for k in TARGETS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "set exactly one pruning target: macs_ratio, params_ratio, latency_ms or latency_ratio (with backend, threads)"
                + (f"; got {', '.join(given)}" if given else ""))
        if self.sensitivity is not None and self.sensitivity.apply and self.layer_ratios:
            raise ValueError("give either layer_ratios or a sensitivity scan with apply: true, not both")
        return self

    @property
    def target_kind(self) -> str:
        return next(k for k in TARGETS if getattr(self, k) is not None)

    @property
    def latency_target(self) -> bool:
        return self.latency_ms is not None or self.latency_ratio is not None

    def describe_target(self, unpruned_ms: float | None = None) -> str:
        """The target in words; with the unpruned p50, a latency ratio also in ms."""
        if self.latency_ms is not None:
            return f"p50 <= {self.latency_ms} ms on {self.backend} ({self.threads} threads)"
        if self.latency_ratio is not None:
            ms = f" = {unpruned_ms * self.latency_ratio:.4g} ms" if unpruned_ms else ""
            return f"p50 <= {self.latency_ratio}x the unpruned model's{ms} on {self.backend} ({self.threads} threads)"
        kind = self.target_kind
        return f"{'MACs' if kind == 'macs_ratio' else 'params'} <= {getattr(self, kind)}x"
