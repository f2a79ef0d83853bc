"""Stage `evaluate`: accuracy, size, MACs and PyTorch latency of the run's models."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydantic import Field

from .registry import StageConfig, register_stage


class EvaluateStage(StageConfig):
    def roles_used(self):
        return [("models", m) for m in self.models or []]

    models: Optional[list[str]] = Field(None, description="roles to evaluate; default: all")
    latency: bool = True
    threads: Optional[int] = Field(None, ge=1, description="torch threads for the latency measurement")


@register_stage("evaluate", EvaluateStage)
def run(ctx, cfg: EvaluateStage, stage_dir: Path) -> dict:
    """Top-1/5, per-class accuracy and confusion matrix (CSV, PNG) of each model, plus params/MACs/latency."""
    from ..backends import REFERENCE_BACKEND, REFERENCE_PRECISION
    from ..eval.confusion import write_confusion
    from ..eval.metrics import evaluate
    from ..models import model_name
    from ..utils.profile import count_macs, count_params

    _, val_loader = ctx.loaders()
    shape = ctx.input_shape
    out = {}
    for role in cfg.models or list(ctx.models):
        model = ctx.model(role).to(ctx.device)
        m = evaluate(model, val_loader, ctx.device, ctx.data.num_classes)
        files = write_confusion(m["confusion"], ctx.data.class_names, m["per_class"], stage_dir / f"confusion_{role}",
                                f"{role}: {model_name(model)} top-1 {m['top1']:.2f}%")
        model.cpu()
        row = {
            "name": model_name(model), "role": role, "backend": REFERENCE_BACKEND, "precision": REFERENCE_PRECISION,
            "params": count_params(model), "macs": count_macs(model, shape),
            "top1": round(m["top1"], 2), "top5": round(m["top5"], 2),
            "latency_ms_p50": None,
            "batch": 1, "val_images": m["n"], "per_class": m["per_class"], **files,
        }
        if cfg.latency:  # p50, the explicit thread count it ran with, and the machine's other load meanwhile
            row.update(_torch_latency(model, shape, cfg.threads))
        ctx.add_result(row)
        out[role] = {"top1": row["top1"], "top5": row["top5"]}
    return {"evaluated": out}


def _torch_latency(model, shape, threads: int | None) -> dict:
    """PyTorch eager, batch 1, through the same runner and timing loop as every backend (short
    settings), with an explicit thread count: `threads`, else the usable cores (the benchmark stage's
    default), so torch rows never ride on whatever the process's pool happens to be."""
    import numpy as np
    import torch

    from ..backends import module_runner
    from ..bench.environment import usable_cores
    from ..utils.timing import OtherLoad, TimingConfig, latency_stats, time_runner

    threads = threads or usable_cores()
    prev = torch.get_num_threads()
    try:
        load = OtherLoad()
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        samples = time_runner(module_runner(model, threads), x, TimingConfig(warmup=5, min_runs=20, min_time_s=0.5), load)
        stats = latency_stats(samples, 1, load)
        return {"latency_ms_p50": round(stats["latency_ms_p50"], 3), "threads": threads,
                "busy_other_pct": stats["busy_other_pct"]}
    finally:
        torch.set_num_threads(prev)  # the runner sets the process-wide pool; later stages get theirs back
