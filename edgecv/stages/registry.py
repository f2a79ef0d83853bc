"""Stages are registered by name with a typed config; adding a stage is one file plus one line in
`STAGE_MODULES` (edgecv/stages/__init__.py)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from pydantic import BaseModel

from ..registry import Registry

if TYPE_CHECKING:
    from ..pipeline import RunContext


@dataclass(frozen=True)
class StageDef:
    name: str
    config: type[BaseModel]  # pydantic model with extra="forbid"; the recipe's keys minus `type`
    run: Callable[["RunContext", BaseModel, Path], dict]  # (ctx, cfg, stage_dir) -> record
    summary: str = ""


STAGES: Registry[StageDef] = Registry("stage")


def register_stage(name: str, config: type[BaseModel]):
    """Decorator: `@register_stage("train", TrainStage) def run(ctx, cfg, stage_dir) -> dict`."""

    def add(fn):
        doc = (fn.__doc__ or "").strip().splitlines()
        STAGES.register(name, StageDef(name, config, fn, doc[0] if doc else ""))
        return fn

    return add
