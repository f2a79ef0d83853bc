"""Stage `distill`: train the student from one or more frozen teachers with registered KD losses."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from pydantic import Field, field_validator

from ..train.spec import TrainSpec
from .registry import StageConfig, register_stage


class DistillStage(StageConfig):
    spec_field = "train"
    student: str = "student"
    teachers: Optional[list[str]] = Field(None, description="teacher roles; default: every teacher of the run")
    losses: list[dict[str, Any]] = Field(default_factory=lambda: [{"name": "kd", "temperature": 4.0, "alpha": 0.9}])
    train: TrainSpec = Field(default_factory=TrainSpec)

    def roles_used(self):
        return [("student", self.student)] + [("teachers", t) for t in self.teachers or []]

    @field_validator("losses")
    @classmethod
    def _check_losses(cls, v):
        from ..distill.registry import validate_loss_config

        return [validate_loss_config(item) for item in v]


@register_stage("distill", DistillStage)
def run(ctx, cfg: DistillStage, stage_dir: Path) -> dict:
    """Distil the student from the teachers (Hinton KD, hint KD, multi-teacher)."""
    from ..distill import build_distiller
    from ..train.loop import fit

    roles = cfg.teachers or ctx.teacher_roles()
    if not roles:
        raise ValueError("stage distill: the recipe has no teacher (set `teacher:` or `teachers:`)")
    student = ctx.model(cfg.student)
    teachers = [ctx.model(r) for r in roles]
    task = build_distiller(student, teachers, cfg.losses, ctx.sample_batch(), [ctx.teacher_input(r) for r in roles])
    train_loader, val_loader = ctx.loaders()
    summary = fit(task, student, train_loader, val_loader, cfg.train, out_dir=stage_dir, device=ctx.device,
                  desc="distill", resume=ctx.resume, seed=ctx.seed)
    task.remove_hooks()
    student.cpu()
    for t in teachers:
        t.cpu()
    return {"student": cfg.student, "teachers": roles, "losses": [loss["name"] for loss in cfg.losses],
            **{k: v for k, v in summary.items() if k != "history"}}
