"""Recovery between pruning steps: the project's one training loop, with KD when a teacher is given."""
from __future__ import annotations

from pathlib import Path

import torch.nn as nn

from ..train.spec import TrainSpec


def finetune(model: nn.Module, train_loader, val_loader, spec: TrainSpec, teacher: nn.Module | None = None,
             teacher_input: nn.Module | None = None, kd_losses: list[dict] | None = None,
             out_dir: str | Path | None = None, device="cpu", desc: str = "fine-tune", seed: int = 0) -> dict | None:
    """Fine-tune `model` for `spec.epochs` (KD from `teacher` if any); returns fit's summary, or None."""
    if spec.epochs == 0 or train_loader is None:
        return None  # pruning without data: no recovery (the caller reports it)
    if val_loader is None:
        raise ValueError("fine-tuning needs val data too, to keep the best epoch (recipe data:, or --finetune-data DIR)")
    from ..train.loop import fit
    from ..train.tasks import ClassificationTask

    task, hooks = ClassificationTask(model, spec.label_smoothing), []
    if teacher is not None:
        from ..distill import build_distiller

        sample = next(iter(train_loader))[0][:2]
        task = build_distiller(model, [teacher], kd_losses, sample, [teacher_input] if teacher_input is not None else None)
        hooks = task.s_tap.handles + [h for t in task.t_taps for h in t.handles]
    try:
        summary = fit(task, model, train_loader, val_loader, spec, out_dir=out_dir, device=device, desc=desc,
                      resume=False, seed=seed)
    finally:
        for h in hooks:
            h.remove()
        model.cpu()
        if teacher is not None:
            teacher.cpu()
    return {k: v for k, v in summary.items() if k != "history"}
