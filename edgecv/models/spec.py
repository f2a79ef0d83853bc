"""The recipe's `teacher:` / `student:` sections."""
from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., description="any timm model, cifar_resnet8/14/20/32/44/56, squeezenet1_0/1_1")
    pretrained: bool = False
    checkpoint: Optional[str] = None
    num_classes: Optional[int] = Field(None, ge=1, description="default: the dataset's class count")
    small_input: bool = False
    kwargs: dict[str, Any] = {}
