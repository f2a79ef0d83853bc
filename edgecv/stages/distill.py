"""Stage `distill`: train the student from one or more frozen teachers with registered KD losses."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..train.spec import TrainSpec
from .registry import StageConfig, register_stage


class TeacherCacheSpec(BaseModel):
    """Reuse the teacher's outputs instead of running it every step (distill/cache.py)."""
    model_config = ConfigDict(extra="forbid")
    views: Optional[int] = Field(None, ge=1, description="distinct augmented epochs; epoch e replays data epoch "
                                 "e % views and takes its teacher outputs from the cache (default: every epoch "
                                 "its own, cached for the next run with the same teacher, data and seed)")
    dir: Optional[str] = Field(None, description="cache directory shared between runs (default: the stage's folder); "
                               "entries are keyed by the teachers' weights and the data settings")


class DistillStage(StageConfig):
    spec_field = "train"
    student: str = "student"
    teachers: Optional[list[str]] = Field(None, description="teacher roles; default: every teacher of the run")
    losses: list[dict[str, Any]] = Field(default_factory=lambda: [{"name": "kd", "temperature": 4.0, "alpha": 0.9}])
    train: TrainSpec = Field(default_factory=TrainSpec)
    teacher_cache: Optional[TeacherCacheSpec] = Field(None, description="cache the teachers' logits (FKD-style)")

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
    cache = _teacher_cache(ctx, cfg, task, train_loader, stage_dir) if cfg.teacher_cache is not None else None
    summary = fit(task, student, train_loader, val_loader, cfg.train, out_dir=stage_dir, device=ctx.device,
                  desc="distill", resume=ctx.resume, seed=ctx.seed)
    task.remove_hooks()
    student.cpu()
    for t in teachers:
        t.cpu()
    out = {"student": cfg.student, "teachers": roles, "losses": [loss["name"] for loss in cfg.losses],
           **{k: v for k, v in summary.items() if k != "history"}}
    if cache is not None:
        out["teacher_cache"] = cache.stats()
    return out


def _teacher_cache(ctx, cfg: DistillStage, task, train_loader, stage_dir: Path):
    from ..distill.cache import TeacherCache, cache_key

    spec = cfg.teacher_cache
    d = ctx.data
    # everything that decides which images, augmented how and mixed how, fill each batch
    key = cache_key(list(task.teachers) + list(task.teacher_inputs),
                    train_images=len(d.train), transform=repr(getattr(d.train, "transform", None)),
                    dataset=type(d.train).__name__, batch_size=train_loader.batch_size, seed=ctx.seed,
                    mixup=cfg.train.mixup, cutmix=cfg.train.cutmix, mix_prob=cfg.train.mix_prob,
                    max_steps=cfg.train.max_steps_per_epoch, image_size=d.image_size,
                    teacher_autocast=cfg.train.amp)  # the teacher runs under the loop's autocast: bf16 logits differ
    cache = TeacherCache(Path(spec.dir) if spec.dir else stage_dir / "teacher_cache", key,
                         spec.views or max(1, cfg.train.epochs))
    task.use_cache(cache)
    return cache
