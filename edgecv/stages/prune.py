"""Stage `prune`: structured channel pruning of one model to a MACs, params or latency target,
with KD fine-tuning between iterative steps. The pruned model replaces the role in place, so later
stages (export, benchmark, quantize) see the smaller model, or fills the role named by `into`."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Optional

from pydantic import Field, field_validator

from ..prune.spec import PruneSpec
from .registry import StageConfig, register_stage


PRUNE_STEP = "prune_step"  # ledger rows that log a pruning step, not a deployable artifact


class PruneStage(StageConfig):
    spec_field = "prune"
    model: str = Field("student", description="role to prune: student, teacher, teacher1..")
    teacher: str = Field("auto", description="KD teacher role for the fine-tunes; 'auto': the run's teacher "
                         "(an unpruned copy when pruning a teacher itself); 'self': an unpruned copy; 'none': labels only")
    into: Optional[str] = Field(None, description="role that receives the pruned model, keeping `model` as it was "
                                "(e.g. `pruned`, to benchmark both); default: prune `model` in place")
    prune: PruneSpec = Field(default_factory=PruneSpec)

    @field_validator("into")
    @classmethod
    def _not_a_teacher(cls, v):
        if v is not None and v.startswith("teacher"):
            raise ValueError(f"'{v}': roles starting with 'teacher' are the run's KD teachers; name the pruned model otherwise")
        return v

    def roles_used(self):
        return [("model", self.model)] + ([("teacher", self.teacher)] if self.teacher not in ("auto", "self", "none") else [])

    def roles_made(self):
        return [self.into] if self.into else []


@register_stage("prune", PruneStage)
def run(ctx, cfg: PruneStage, stage_dir: Path) -> dict:
    """Prune whole channels to a MACs/params/latency target in N steps with KD fine-tuning between them."""
    from ..backends import REFERENCE_BACKEND, REFERENCE_PRECISION, resolve_backend
    from ..models import model_name
    from ..prune.history import summary
    from ..prune.iterative import PruneRun, prune_model

    model = ctx.model(cfg.model)
    spec = cfg.prune
    teacher_role, teacher = _teacher(ctx, cfg)
    role = cfg.into or cfg.model
    if cfg.into:
        model = copy.deepcopy(model)
        ctx.models[cfg.into] = model
    # the teacher sees inputs in its own normalisation (an unpruned copy of the model itself needs none)
    teacher_input = ctx.teacher_input(teacher_role) if teacher_role not in (None, "self") else None
    train_loader, val_loader = ctx.loaders()
    result = prune_model(model, spec, PruneRun(train_loader, val_loader, teacher=teacher, teacher_input=teacher_input,
                                               input_shape=ctx.input_shape, out_dir=stage_dir, device=ctx.device,
                                               seed=ctx.seed))
    name = model_name(model)
    timed_on = resolve_backend(spec.backend)  # 'onnx' -> 'onnxruntime', so rows match the other ledger rows
    last = len(result.steps) - 1
    for i, row in enumerate(result.steps):
        label = "original" if row["step"] == 0 else ("pruned" if i == last else f"step {row['step']}")
        ctx.add_result({
            "name": f"{name} ({role}, prune {label})", "role": role,
            "backend": timed_on if row.get("latency_ms_p50") is not None else REFERENCE_BACKEND,
            "precision": REFERENCE_PRECISION,
            "params": row["params"], "macs": row["macs"], "top1": row.get("top1"),
            "latency_ms_p50": row.get("latency_ms_p50"), "busy_other_pct": row.get("busy_other_pct"),
            "threads": spec.threads, "batch": 1,
            "macs_ratio": row["macs_ratio"], "params_ratio": row["params_ratio"], "kind": PRUNE_STEP,
        })
    return {"model": cfg.model, "into": role, "teacher": teacher_role, "target": result.target, "target_met": result.met,
            "steps": [{k: v for k, v in r.items() if k != "onnx_max_abs_diff"} for r in result.steps],
            "layer_ratios": result.layer_ratios, "pruning": summary(result.history), **result.files}


def _teacher(ctx, cfg: PruneStage):
    """(role or 'self', module) of the KD teacher, or (None, None) for label-only fine-tuning."""
    model = ctx.model(cfg.model)
    choice = cfg.teacher
    if choice == "none" or (cfg.prune.finetune.epochs == 0 and cfg.prune.final_epochs == 0):
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
