"""What a quantization asks for: precision, calibration, accuracy budget, and QAT settings."""
from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..train.spec import TrainSpec

METHODS = ("minmax", "entropy", "percentile")
PRECISIONS = ("int8", "fp16")
BACKEND = "onnxruntime"  # the backend whose FP32 files this layer converts (QDQ INT8, FP16)


class QuantizeSpec(BaseModel):
    """One quantization of one FP32 ONNX model.

    `budget` is in top-1 points below FP32 on the validation images: with it, an INT8 model over
    budget gets its most sensitive nodes put back into FP32, one group at a time, until it fits.
    """

    model_config = ConfigDict(extra="forbid")
    precision: Literal["int8", "fp16"] = "int8"
    method: Literal["minmax", "entropy", "percentile"] = Field("minmax", description="activation range calibration")
    percentile: float = Field(99.999, gt=90, le=100, description="method percentile: kept share of |activations|")
    calib_size: int = Field(256, ge=1, description="calibration images")
    calib_batch: int = Field(32, ge=1)
    per_channel: bool = Field(True, description="one weight scale per output channel (Conv/Gemm)")
    activation_type: Literal["uint8", "int8"] = Field(
        "uint8", description="uint8 (asymmetric): ONNX Runtime's fast x86/ARM path; int8 (symmetric): what TensorRT expects")
    reduce_range: bool = Field(False, description="7-bit weights, for x86 CPUs without VNNI")
    preprocess: bool = Field(True, description="run ONNX Runtime's quant_pre_process (shape inference + graph fusion) first")
    budget: Optional[float] = Field(None, ge=0, description="max top-1 points below FP32; needs validation images")
    sensitivity_images: int = Field(64, ge=1, description="calibration images used to rank node sensitivity")
    group_size: Optional[int] = Field(None, ge=1, description="nodes put back to FP32 per step (default: ~5% of the quantized nodes)")
    max_fp32_fraction: float = Field(0.5, gt=0, le=1, description="give up (and suggest QAT) past this share of nodes in FP32")
    threads: Optional[int] = Field(None, ge=1, description="ONNX Runtime threads for the latency of each step")


class QATSpec(TrainSpec):
    """Quantization-aware fine-tuning with KD (PT2E fake quantization), for when PTQ misses the budget."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["auto", "always", "never"] = Field("auto", description="auto: only when PTQ misses the budget")
    epochs: int = Field(1, ge=0)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    teacher: str = Field("auto", description="KD teacher role; auto: the run's teacher, else the FP32 model itself")
    losses: list[dict[str, Any]] = Field(default_factory=lambda: [{"name": "kd", "temperature": 4.0, "alpha": 0.9}])

    @field_validator("losses")
    @classmethod
    def _check_losses(cls, v):
        from ..distill import LOSSES  # noqa: F401  (registers the built-in losses)
        from ..distill.registry import validate_loss_config

        return [validate_loss_config(item) for item in v]

    def train_spec(self) -> TrainSpec:
        return TrainSpec(**self.model_dump(exclude={"mode", "teacher", "losses"}))
