"""Stage `train`: train or fine-tune one model of the run (teacher or student) with labels."""
from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict

from ..train.spec import TrainSpec
from .registry import register_stage


class TrainStage(TrainSpec):
    model_config = ConfigDict(extra="forbid")
    model: str = "teacher"  # role: teacher, teacher1.., student


@register_stage("train", TrainStage)
def run(ctx, cfg: TrainStage, stage_dir: Path) -> dict:
    """Train or fine-tune a model with cross-entropy (label smoothing, cosine LR, early stopping)."""
    from ..train.loop import fit
    from ..train.tasks import ClassificationTask
    from .common import loaders

    model = ctx.model(cfg.model)
    train_loader, val_loader = loaders(ctx)
    spec = TrainSpec(**cfg.model_dump(exclude={"model"}))
    summary = fit(ClassificationTask(model, spec.label_smoothing), model, train_loader, val_loader, spec,
                  out_dir=stage_dir, device=ctx.device, desc=f"train {cfg.model}", resume=ctx.resume, seed=ctx.seed)
    model.cpu()
    return {"model": cfg.model, **{k: v for k, v in summary.items() if k != "history"}}
