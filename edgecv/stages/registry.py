"""Stages are registered by name with a typed config; adding a stage is one file plus one line in
`STAGE_MODULES` below. The stage-independence contract (pyproject.toml) reads the same list.

A stage's config *holds* the workflow spec it runs (a TrainSpec, a PruneSpec...) in one field rather
than inheriting from it: the recipe still writes the spec's keys flat beside the stage's own keys
(`{type: train, model: teacher, epochs: 6}`), and `StageConfig` folds them into that field.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

from ..registry import Registry

if TYPE_CHECKING:
    from .context import RunContext


class StageConfig(BaseModel):
    """Base of every stage config: unknown keys are errors; `spec_field` names the field that holds
    the stage's workflow spec, whose keys the recipe writes flat."""

    model_config = ConfigDict(extra="forbid")
    spec_field: ClassVar[str | None] = None

    @classmethod
    def spec_class(cls) -> type[BaseModel] | None:
        return cls.model_fields[cls.spec_field].annotation if cls.spec_field else None

    @classmethod
    def flat_fields(cls) -> list[str]:
        """The keys a recipe may write for this stage (its own plus its spec's)."""
        own = [f for f in cls.model_fields if f != cls.spec_field]
        spec = cls.spec_class()
        return own + [f for f in (spec.model_fields if spec else ()) if f not in own]

    def roles_used(self) -> list[tuple[str, str]]:
        """(key, role) pairs of the run's models this stage reads; the recipe checks they exist by then."""
        return []

    def roles_made(self) -> list[str]:
        """Roles this stage adds to the run (e.g. prune's `into`)."""
        return []

    @model_validator(mode="before")
    @classmethod
    def _fold_spec(cls, data: Any) -> Any:
        spec = cls.spec_class()
        if spec is None or not isinstance(data, dict):
            return data
        own = set(cls.model_fields)
        inner = {k: v for k, v in data.items() if k in spec.model_fields and k not in own}
        nested = data.get(cls.spec_field)
        if isinstance(nested, dict):  # the nested form with flat keys beside it: flat keys win
            inner = {**nested, **inner}
        elif nested is not None:
            return data  # not a mapping: let validation say so
        rest = {k: v for k, v in data.items() if k not in inner and k != cls.spec_field}
        return {**rest, cls.spec_field: inner}


@dataclass(frozen=True)
class StageDef:
    name: str
    config: type[StageConfig]  # the recipe's keys minus `type`
    run: Callable[["RunContext", StageConfig, Path], dict]  # (ctx, cfg, stage_dir) -> record
    summary: str = ""


# One line per stage: its module edgecv/stages/<name>.py, loaded on the registry's first look-up.
STAGE_MODULES = ("train", "distill", "evaluate", "export", "benchmark", "prune", "quantize")
STAGES: Registry[StageDef] = Registry("stage", plugins=[f"edgecv.stages.{m}" for m in STAGE_MODULES])


def register_stage(name: str, config: type[StageConfig]):
    """Decorator: `@register_stage("train", TrainStage) def run(ctx, cfg, stage_dir) -> dict`."""
    if not issubclass(config, StageConfig):
        raise TypeError(f"stage '{name}': its config must subclass StageConfig")

    def add(fn):
        doc = (fn.__doc__ or "").strip().splitlines()
        STAGES.register(name, StageDef(name, config, fn, doc[0] if doc else ""))
        return fn

    return add
