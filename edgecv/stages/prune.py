"""Stage `prune`: structured channel pruning of one model to a MACs, params or latency target,
with KD fine-tuning between iterative steps. The pruned model replaces the role in place, so later
stages (export, benchmark, quantize) see the smaller model."""
from __future__ import annotations

import copy
from pathlib import Path

from pydantic import ConfigDict, Field

from ..prune.spec import PruneSpec
from .registry import register_stage


class PruneStage(PruneSpec):
    model_config = ConfigDict(extra="forbid")
    model: str = Field("student", description="role to prune: student, teacher, teacher1..")
    teacher: str = Field("auto", description="KD teacher role for the fine-tunes; 'auto': the run's teacher "
                         "(an unpruned copy when pruning a teacher itself); 'self': an unpruned copy; 'none': labels only")


@register_stage("prune", PruneStage)
def run(ctx, cfg: PruneStage, stage_dir: Path) -> dict:
    """Prune whole channels to a MACs/params/latency target in N steps with KD fine-tuning between them."""
    from ..prune.history import summary
    from ..prune.iterative import prune_model
    from .common import loaders

    model = ctx.model(cfg.model)
    teacher_role, teacher = _teacher(ctx, cfg)
    teacher_input = None
    if teacher is not None:  # the teacher sees inputs in its own normalisation
        from ..distill import Renormalize
        from ..models import data_config

        t_cfg = data_config(teacher)
        teacher_input = Renormalize(ctx.data.mean, ctx.data.std, t_cfg["mean"], t_cfg["std"])
    train_loader, val_loader = loaders(ctx)
    spec = PruneSpec(**cfg.model_dump(exclude={"model", "teacher"}))
    shape = (1, 3, ctx.data.image_size, ctx.data.image_size)
    result = prune_model(model, spec, train_loader=train_loader, val_loader=val_loader, teacher=teacher,
                         teacher_input=teacher_input, input_shape=shape, out_dir=stage_dir, device=ctx.device,
                         seed=ctx.seed)
    name = model.edgecv_spec["name"] if hasattr(model, "edgecv_spec") else type(model).__name__
    last = len(result.steps) - 1
    for i, row in enumerate(result.steps):
        label = "original" if row["step"] == 0 else ("pruned" if i == last else f"step {row['step']}")
        ctx.add_result({
            "name": f"{name} ({cfg.model}, prune {label})", "role": cfg.model,
            "backend": spec.backend if row.get("latency_ms_p50") is not None else "torch", "precision": "fp32",
            "params": row["params"], "macs": row["macs"], "top1": row.get("top1"),
            "latency_ms_p50": row.get("latency_ms_p50"), "threads": spec.threads, "batch": 1,
            "macs_ratio": row["macs_ratio"], "params_ratio": row["params_ratio"],
        })
    return {"model": cfg.model, "teacher": teacher_role, "target": result.target, "target_met": result.met,
            "steps": [{k: v for k, v in r.items() if k != "onnx_max_abs_diff"} for r in result.steps],
            "layer_ratios": result.layer_ratios, "pruning": summary(result.history), **result.files}


def _teacher(ctx, cfg: PruneStage):
    """(role or 'self', module) of the KD teacher, or (None, None) for label-only fine-tuning."""
    model = ctx.model(cfg.model)
    choice = cfg.teacher
    if choice == "none" or (cfg.finetune.epochs == 0 and cfg.final_epochs == 0):
        return None, None
    if choice == "auto":
        if cfg.model.startswith("teacher"):
            choice = "self"
        else:
            roles = ctx.teacher_roles()
            if not roles:
                return None, None
            choice = "teacher" if "teacher" in roles else roles[0]
    if choice == "self" or choice == cfg.model:
        frozen = copy.deepcopy(model)  # the unpruned weights, before this stage changes them
        return "self", frozen
    return choice, ctx.model(choice)
