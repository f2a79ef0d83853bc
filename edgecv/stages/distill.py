"""Stage `distill`: train the student from one or more frozen teachers with registered KD losses."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from pydantic import ConfigDict, Field, field_validator

from ..train.spec import TrainSpec
from .registry import register_stage


class DistillStage(TrainSpec):
    model_config = ConfigDict(extra="forbid")
    student: str = "student"
    teachers: Optional[list[str]] = Field(None, description="teacher roles; default: every teacher of the run")
    losses: list[dict[str, Any]] = Field(default_factory=lambda: [{"name": "kd", "temperature": 4.0, "alpha": 0.9}])

    @field_validator("losses")
    @classmethod
    def _check_losses(cls, v):
        from ..distill import LOSSES  # noqa: F401  (registers the built-in losses)
        from ..distill.registry import validate_loss_config

        return [validate_loss_config(item) for item in v]


@register_stage("distill", DistillStage)
def run(ctx, cfg: DistillStage, stage_dir: Path) -> dict:
    """Distil the student from the teachers (Hinton KD, hint KD, multi-teacher)."""
    from ..distill import build_distiller
    from ..train.loop import fit
    from .common import loaders, sample_batch, teacher_input_adapters

    roles = cfg.teachers or ctx.teacher_roles()
    if not roles:
        raise ValueError("stage distill: the recipe has no teacher (set `teacher:` or `teachers:`)")
    student = ctx.model(cfg.student)
    teachers = [ctx.model(r) for r in roles]
    task = build_distiller(student, teachers, cfg.losses, sample_batch(ctx), teacher_input_adapters(ctx, roles))
    train_loader, val_loader = loaders(ctx)
    spec = TrainSpec(**cfg.model_dump(exclude={"student", "teachers", "losses"}))
    summary = fit(task, student, train_loader, val_loader, spec, out_dir=stage_dir, device=ctx.device,
                  desc="distill", resume=ctx.resume, seed=ctx.seed)
    task.remove_hooks()
    student.cpu()
    for t in teachers:
        t.cpu()
    return {"student": cfg.student, "teachers": roles, "losses": [l["name"] for l in cfg.losses],
            **{k: v for k, v in summary.items() if k != "history"}}
