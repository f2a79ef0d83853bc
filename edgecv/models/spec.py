"""The recipe's `teacher:` / `student:` sections."""
from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

ENSEMBLE = "ensemble"  # the model name whose `members` logits are averaged (models/ensemble.py)


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., description="any timm model, cifar_resnet8/14/20/32/44/56, squeezenet1_0/1_1, "
                      "or ensemble (with members)")
    pretrained: bool = False
    checkpoint: Optional[str] = None
    num_classes: Optional[int] = Field(None, ge=1, description="default: the dataset's class count")
    small_input: bool = False
    kwargs: dict[str, Any] = {}
    members: list[ModelSpec] = Field(default_factory=list, validate_default=True,
                                     description="name: ensemble: the models whose logits are averaged")
    weights: Optional[list[float]] = Field(None, description="name: ensemble: one positive weight per member "
                                           "(normalised to sum to 1); default: the plain mean")

    @field_validator("pretrained", "small_input", "kwargs")
    @classmethod
    def _members_own_these(cls, v, info: ValidationInfo):
        if v and info.data.get("name") == ENSEMBLE:
            raise ValueError(f"an ensemble has no {info.field_name} of its own: set it on its members")
        return v

    @field_validator("members")
    @classmethod
    def _ensemble_has_members(cls, v: list[ModelSpec], info: ValidationInfo):
        name = info.data.get("name")
        if name == ENSEMBLE and len(v) < 2:
            raise ValueError("an ensemble needs at least two members, e.g. [{name: cifar_resnet20, checkpoint: ...}, "
                             "{name: cifar_resnet56, checkpoint: ...}]")
        if name is not None and name != ENSEMBLE and v:
            raise ValueError(f"only name: {ENSEMBLE} has members ('{name}' is one model)")
        given = {m.num_classes for m in v if m.num_classes is not None} | (
            {info.data["num_classes"]} if info.data.get("num_classes") is not None else set())
        if len(given) > 1:
            shown = ", ".join(f"members.{i}: {m.num_classes}" for i, m in enumerate(v) if m.num_classes is not None)
            raise ValueError(f"ensemble members must share one class count, got num_classes {shown}"
                             + (f" (the ensemble's: {info.data['num_classes']})" if info.data.get("num_classes") else ""))
        return v

    @field_validator("weights")
    @classmethod
    def _one_weight_per_member(cls, v: Optional[list[float]], info: ValidationInfo):
        if v is None:
            return v
        if info.data.get("name") != ENSEMBLE:
            raise ValueError(f"only name: {ENSEMBLE} has weights")
        members = info.data.get("members")
        if members is not None and len(v) != len(members):
            raise ValueError(f"one weight per member: {len(members)} members, {len(v)} weights")
        if any(not w > 0 for w in v):
            raise ValueError(f"weights must be positive, got {v}")
        return v
