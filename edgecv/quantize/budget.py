"""The accuracy budget: rank quantized nodes by sensitivity, then put the worst back into FP32,
one group at a time, until the INT8 model is within `budget` top-1 points of FP32 and agrees with its
predictions on at least `min_agreement` % of the validation images (whichever the spec sets).

Sensitivity of a node = the error of the model's logits against FP32 when *only that node* is
quantized (on a few calibration images). Ranking by the error each node causes on its own avoids
the bias of comparing intermediate tensors, whose error always grows with depth.
"""
from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .measure import logits, relative_error
from .ptq_onnx import quantize_qdq, quantized_nodes
from .spec import QuantizeSpec


@dataclass
class BudgetResult:
    met: bool
    budget: float | None
    fp32_top1: float
    kept_fp32: list[str]  # nodes left in FP32 in the chosen model, most sensitive first
    steps: list[dict]  # one per model tried: step 0 is plain INT8
    sensitivity: list[dict] = field(default_factory=list)  # [{node, op, error}], most sensitive first
    chosen_step: int = 0
    min_agreement: float | None = None

    def summary(self) -> dict:
        return {"budget": self.budget, "min_agreement": self.min_agreement, "budget_met": self.met,
                "fp32_top1": self.fp32_top1,
                "kept_fp32": self.kept_fp32, "chosen_step": self.chosen_step, "steps": self.steps,
                "sensitivity": self.sensitivity[:20]}


def rank_sensitivity(prepared: Path, spec: QuantizeSpec, cache: Path, images: np.ndarray, work: Path,
                     candidates: list[str] | None = None, threads: int | None = None,
                     progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """[{node, op, error}] sorted most sensitive first; `images` are a few calibration images."""
    import onnx

    ops = {n.name: n.op_type for n in onnx.load(str(prepared), load_external_data=False).graph.node}
    if candidates is None:
        full = quantize_qdq(prepared, work / "full.onnx", spec, cache, images)
        candidates = quantized_nodes(full)
    ref = logits(prepared, images, threads)
    ranked = []
    for i, node in enumerate(candidates):
        single = quantize_qdq(prepared, work / "single.onnx", spec, cache, images, nodes_to_quantize=[node])
        ranked.append({"node": node, "op": ops.get(node, "?"), "error": relative_error(logits(single, images, threads), ref)})
        if progress:
            progress(i + 1, len(candidates))
    return sorted(ranked, key=lambda r: -r["error"])


@dataclass(frozen=True)
class Judge:
    """How each candidate model is judged: `score(path)` gives (top-1 %, agreement % with the FP32 model's
    predictions), `latency(path)` its p50 in ms; `fp32_top1` is what the drop is measured from."""
    score: Callable[[Path], tuple[float, float | None]]
    latency: Callable[[Path], float]
    fp32_top1: float


def fit_budget(prepared: Path, out_path: Path, spec: QuantizeSpec, cache: Path, images: np.ndarray, judge: Judge,
               work: Path, log: Callable[[str], None] = lambda _s: None) -> BudgetResult:
    """Quantize, and while over budget keep the next most sensitive group in FP32; the chosen model
    (the first within budget, else the most accurate tried) is copied to `out_path`. Measurements run
    with `spec.threads`."""
    if not spec.has_budget:
        raise ValueError("fit_budget needs spec.budget (top-1 points below FP32) or spec.min_agreement (%)")
    full = quantize_qdq(prepared, work / "step0.onnx", spec, cache, images)
    candidates = quantized_nodes(full)
    fp32_top1 = judge.fp32_top1
    steps = [_step(0, full, [], [], judge, spec)]
    log(f"INT8: {_describe(steps[0])} vs FP32 {fp32_top1:.2f}%; required: {_required(spec)}")
    ranking: list[dict] = []
    kept: list[str] = []
    if not steps[0]["met"] and candidates:
        sens_images = images[: spec.sensitivity_images]
        log(f"over budget: ranking {len(candidates)} quantized nodes by sensitivity on {len(sens_images)} images")
        ranking = rank_sensitivity(prepared, spec, cache, sens_images, work, candidates, spec.threads)
        group = spec.group_size or max(1, round(0.05 * len(candidates)))
        limit = max(1, math.floor(spec.max_fp32_fraction * len(candidates)))
        order = [r["node"] for r in ranking]
        while not steps[-1]["met"] and len(kept) < min(limit, len(order)):
            added = order[len(kept) : min(len(kept) + group, limit)]
            kept = kept + added
            path = quantize_qdq(prepared, work / f"step{len(steps)}.onnx", spec, cache, images, nodes_to_exclude=kept)
            steps.append(_step(len(steps), path, kept, added, judge, spec, steps[-1]))
            s = steps[-1]
            log(f"step {s['step']}: {len(kept)} node(s) in FP32, {_describe(s)}, "
                f"p50 {s['latency_ms_p50']:.3f} ms ({s['latency_cost_ms']:+.3f} ms)")
    met = [s for s in steps if s["met"]]
    # missed: the model closest to FP32 (agreement first when it is what was asked for)
    closeness = (lambda s: (s["agreement"], s["top1"], -s["step"])) if spec.min_agreement is not None else \
        (lambda s: (s["top1"], -s["step"]))
    chosen = met[0] if met else max(steps, key=closeness)
    shutil.copyfile(chosen["path"], out_path)
    for s in steps:
        s.pop("path")
    return BudgetResult(bool(met), spec.budget, fp32_top1, list(chosen["kept"]), steps, ranking, chosen["step"],
                        spec.min_agreement)


def _required(spec: QuantizeSpec) -> str:
    need = [f"<= {spec.budget} pt below FP32"] if spec.budget is not None else []
    need += [f">= {spec.min_agreement}% agreement"] if spec.min_agreement is not None else []
    return " and ".join(need)


def _describe(step: dict) -> str:
    agree = "" if step.get("agreement") is None else f", agreement {step['agreement']:.2f}%"
    return f"top-1 {step['top1']:.2f}% ({-step['drop']:+.2f} pt){agree}"


def _step(i: int, path: Path, kept: list[str], added: list[str], judge: Judge, spec: QuantizeSpec,
          prev: dict | None = None) -> dict:
    top1, agree = judge.score(path)
    lat = float(judge.latency(path))
    drop = round(judge.fp32_top1 - float(top1), 4)
    return {"step": i, "path": path, "fp32_nodes": len(kept), "kept": list(kept), "added": list(added),
            "top1": round(float(top1), 3), "drop": drop, "agreement": agree,
            "met": spec.within_budget(drop, agree), "latency_ms_p50": lat,
            "latency_cost_ms": round(lat - prev["latency_ms_p50"], 4) if prev else 0.0}
