"""The recipe's `data:` section as validated data."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field


class AugmentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    crop: Literal["auto", "random_resized_crop", "pad_crop", "none"] = "auto"
    pad: int = Field(4, ge=0)
    scale: tuple[float, float] = (0.08, 1.0)
    hflip: bool = True
    rotation: float = Field(0.0, ge=0, le=180)
    color_jitter: float = Field(0.0, ge=0, le=1)


class DataSpec(BaseModel):
    """Where images come from and how they are shaped.

    source: `digits` (embedded, no download), `imagefolder` (`root/train/<class>/*`,
    `root/val/<class>/*`, or explicit `train_dir`/`val_dir`), or `cifar10` (torchvision; reads
    `root`, downloads only with `download: true`).
    """

    model_config = ConfigDict(extra="forbid")
    source: Literal["digits", "imagefolder", "cifar10"] = "digits"
    root: Optional[str] = None
    train_dir: Optional[str] = None
    val_dir: Optional[str] = None
    download: bool = False
    image_size: Optional[int] = Field(None, ge=8, le=1024, description="default: the student's input size")
    mean: Optional[tuple[float, float, float]] = None
    std: Optional[tuple[float, float, float]] = None
    batch_size: int = Field(64, ge=1)
    eval_batch_size: int = Field(256, ge=1)
    workers: int = Field(2, ge=0)
    max_train: Optional[int] = Field(None, ge=1, description="seeded stratified subset of the train split")
    max_val: Optional[int] = Field(None, ge=1)
    val_fraction: float = Field(0.2, gt=0, lt=1, description="digits only: held-out fraction")
    augment: AugmentSpec = AugmentSpec()
