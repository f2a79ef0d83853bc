"""What a quantization asks for: precision, calibration, accuracy budget, and QAT settings."""
from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..train.spec import TrainSpec

METHODS = ("robust_minmax", "minmax", "entropy", "percentile")
PRECISIONS = ("int8", "fp16")
BACKEND = "onnxruntime"  # the backend whose FP32 files this layer converts (QDQ INT8, FP16)


class QuantizeSpec(BaseModel):
    """One quantization of one FP32 ONNX model.

    `budget` is in top-1 points below FP32 on the validation images, `min_agreement` in percent of those
    images predicted as FP32 predicts them: with either, an INT8 model that misses it gets its most
    sensitive nodes put back into FP32, one group at a time, until both hold.
    """

    model_config = ConfigDict(extra="forbid")
    precision: Literal["int8", "fp16"] = "int8"
    # robust_minmax by default: MobileNetV3 students' activations reach 20-100x their usual range on ~1 % of
    # images, so plain minmax ranges depend on whether the calibration draw holds such an image. Top-1
    # agreement with FP32 on 1000 CIFAR-10 val images, calibration draws of 256 (2 seeds) and 1024 images:
    # MobileNetV3-small 93.2/92.3/93.5 % robust_minmax, 90.5/80.9/79.3 % minmax; MobileNetV2 97.7/98.0/97.9
    # vs 98.3/97.7/97.5; ResNet-20 98.8/98.8/98.6 vs 98.8/98.4/98.7.
    method: Literal["robust_minmax", "minmax", "entropy", "percentile"] = Field(
        "robust_minmax", description="activation ranges: robust_minmax (per-image min/max, image_percentile of them), "
        "minmax, entropy or percentile (ONNX Runtime's calibrators)")
    image_percentile: float = Field(99.0, gt=50, le=100, description="method robust_minmax: the share of calibration "
                                    "images (%) whose own min/max the range covers; 100 is plain minmax")
    percentile: float = Field(99.999, gt=90, le=100, description="method percentile: kept share of activation values")
    calib_size: int = Field(256, ge=1, description="calibration images")
    calib_batch: int = Field(32, ge=1)
    per_channel: bool = Field(True, description="one weight scale per output channel (Conv/Gemm)")
    activation_type: Literal["uint8", "int8"] = Field(
        "uint8", description="uint8 (asymmetric): ONNX Runtime's fast x86/ARM path; int8 (symmetric): what TensorRT expects")
    # On x86 without VNNI, u8 x s8 kernels add pairs of products into a saturating int16: `reduce_range`
    # (7-bit weights) or uint8 weights avoid it. None: decided by the build's target (edgecv.targets).
    reduce_range: Optional[bool] = Field(None, description="7-bit weights (|w| <= 64); default: on for targets "
                                         "whose int8 kernels saturate (x86 without VNNI), off elsewhere")
    weight_type: Literal["int8", "uint8"] = Field("int8", description="int8 (u8 x s8 kernels; VNNI, ARM, x86 7-bit) "
                                                  "or uint8 (U8U8 kernels: never saturate, slower on VNNI)")
    preprocess: bool = Field(True, description="run ONNX Runtime's quant_pre_process (shape inference + graph fusion) first")
    keep_fp32: list[str] = Field(default_factory=list, description="nodes kept in FP32 from the start: ONNX operator types "
                                 "(e.g. HardSwish, Gemm) or patterns: stem, se, hardswish, depthwise (edgecv.quantize.select)")
    budget: Optional[float] = Field(None, ge=0, description="max top-1 points below FP32; needs validation images")
    # top-1 can hold while individual predictions flip both ways: a deployment that must give the FP32 model's
    # answers (the benchmark marks INT8 rows under its min_int8_agreement `inaccurate`) bounds agreement instead
    min_agreement: Optional[float] = Field(None, gt=0, le=100, description="min top-1 agreement (%) with the FP32 "
                                           "model's predictions on the validation images; needs validation images")
    sensitivity_images: int = Field(64, ge=1, description="calibration images used to rank node sensitivity")
    group_size: Optional[int] = Field(None, ge=1, description="nodes put back to FP32 per step (default: ~5% of the quantized nodes)")
    max_fp32_fraction: float = Field(0.5, gt=0, le=1, description="give up (and suggest QAT) past this share of nodes in FP32")
    threads: Optional[int] = Field(None, ge=1, description="ONNX Runtime threads for the latency of each step")

    @property
    def has_budget(self) -> bool:
        """Whether an accuracy requirement (points or agreement) drives the budget loop."""
        return self.budget is not None or self.min_agreement is not None

    def within_budget(self, drop: float, agreement: float | None) -> bool:
        """Whether a model `drop` top-1 points below FP32, agreeing on `agreement` % of images, meets both limits."""
        if self.budget is not None and drop > self.budget + 1e-9:
            return False
        return self.min_agreement is None or (agreement is not None and agreement >= self.min_agreement - 1e-9)

    @field_validator("keep_fp32", mode="before")
    @classmethod
    def _check_keep_fp32(cls, v):
        from .select import check_entry

        items = [v] if isinstance(v, str) else v
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise ValueError("expected a list of ONNX operator types or patterns, e.g. [se, stem]")
        return list(dict.fromkeys(check_entry(i.strip()) for i in items if i.strip()))


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
        from ..distill.registry import validate_loss_config

        return [validate_loss_config(item) for item in v]

    def train_spec(self) -> TrainSpec:
        return TrainSpec(**self.model_dump(exclude={"mode", "teacher", "losses"}))
