"""Stage `train`: train or fine-tune one model of the run (teacher or student) with labels."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field

from ..train.spec import TrainSpec
from .registry import StageConfig, register_stage


class TrainStage(StageConfig):
    spec_field = "train"
    model: str = Field("teacher", description="role: teacher, teacher1.., student")
    train: TrainSpec = Field(default_factory=TrainSpec)

    def roles_used(self):
        return [("model", self.model)]


@register_stage("train", TrainStage)
def run(ctx, cfg: TrainStage, stage_dir: Path) -> dict:
    """Train or fine-tune a model with cross-entropy (label smoothing, cosine LR, early stopping)."""
    from ..train.loop import fit
    from ..train.tasks import ClassificationTask

    model = ctx.model(cfg.model)
    train_loader, val_loader = ctx.loaders()
    summary = fit(ClassificationTask(model, cfg.train.label_smoothing), model, train_loader, val_loader, cfg.train,
                  out_dir=stage_dir, device=ctx.device, desc=f"train {cfg.model}", resume=ctx.resume, seed=ctx.seed)
    model.cpu()
    return {"model": cfg.model, **{k: v for k, v in summary.items() if k != "history"}}
