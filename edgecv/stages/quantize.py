"""Stage `quantize`: INT8 (PTQ, budget loop, QAT with KD when PTQ misses) and FP16 ONNX artifacts of
the run's models, measured on the val split, with per-backend precision advice.

The artifacts join ctx.artifacts, so a later `benchmark` stage measures them like any other."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import Field, field_validator

from ..backends import REFERENCE_PRECISION
from ..quantize.spec import BACKEND, QATSpec, QuantizeSpec
from .registry import StageConfig, register_stage

DEFAULT_ADVICE_BUDGET = 1.0  # top-1 points, when the recipe sets no budget (the harness's default too)


class QuantizeStage(StageConfig):
    spec_field = "quantize"
    precision: list[Literal["int8", "fp16"]] = Field(["int8"], min_length=1, description="int8, fp16 or both")
    models: Optional[list[str]] = Field(None, description="roles to quantize; default: the student")
    val_images: Optional[int] = Field(None, ge=1, description="stratified subset of the val split for the budget (default: all)")
    target: str = Field("host", description="the CPU the INT8 files are for: host (this machine) or a named target "
                        "(x86-avx2: x86 without VNNI gets 7-bit weights; x86-vnni, arm64-*, jetson: 8-bit)")
    qat: QATSpec = QATSpec()
    quantize: QuantizeSpec = Field(default_factory=QuantizeSpec)

    def roles_used(self):
        return [("models", m) for m in self.models or ["student"]]

    @field_validator("target")
    @classmethod
    def _known_target(cls, name: str) -> str:
        from ..targets import check_target_name

        return check_target_name(name)

    @field_validator("precision", mode="before")
    @classmethod
    def _one_or_many(cls, v):
        return [v] if isinstance(v, str) else v


@register_stage("quantize", QuantizeStage)
def run(ctx, cfg: QuantizeStage, stage_dir: Path) -> dict:
    """Quantize each model to each precision; over-budget INT8 keeps sensitive nodes FP32, then tries QAT."""
    from ..models import model_name
    from ..quantize.advice import advice_markdown, precision_advice
    from ..quantize.report import steps_markdown, summary_line
    from ..utils.console import get_console
    from ..utils.io import write_text

    con = get_console()
    q = cfg.quantize
    val = ctx.evalset(cfg.val_images)
    calibration = ctx.calibration(q.calib_size, q.calib_batch) if "int8" in cfg.precision else None
    ledger = _Ledger(val, val.first(1), q.threads)
    rows, records, md = ledger.rows, [], [f"# quantize: {ctx.recipe.name}\n"]
    for role in cfg.models or ["student"]:
        model = ctx.model(role).cpu().eval()
        name = model_name(model)
        fp32 = _fp32_artifact(ctx, role, model, stage_dir)
        ledger.add(role, name, REFERENCE_PRECISION, fp32.path, _top1(fp32.path, val, q.threads))
        for precision in cfg.precision:
            con.print(f"  {role}: {precision} from {fp32.path.name}")
            res = _quantize(fp32.path, stage_dir / role / f"{name}-{precision}.onnx", precision, calibration, cfg, val, con)
            rep = res.report
            ctx.add_artifact(_entry(name, precision, res.artifact.path, method=rep.get("method")), role)
            ledger.add(role, name, precision, res.artifact.path, rep["top1"])
            con.print(f"  {role}: {summary_line(rep)}")
            md += [f"## {role} ({name}) {precision}\n", summary_line(rep) + "\n", steps_markdown(rep.get("steps") or [])]
            record = {"role": role, "precision": precision, "path": str(res.artifact.path),
                      **{k: v for k, v in rep.items() if k not in ("steps", "sensitivity")},
                      "steps": [{k: v for k, v in s.items() if k != "kept"} for s in rep.get("steps") or []]}
            if precision == "int8" and _want_qat(cfg, rep):
                record["qat"] = _qat(ctx, cfg, role, model, fp32, stage_dir, ledger)
                md.append(f"QAT with KD: top-1 {record['qat']['top1']:.2f}% ({-record['qat']['drop']:+.2f} pt), "
                          f"{record['qat']['agreement']:.2f}% agreement with FP32, "
                          f"{record['qat']['path']}\n")
            records.append(record)
    budget = q.budget if q.budget is not None else DEFAULT_ADVICE_BUDGET
    advice = precision_advice(rows, budget)
    md += ["## precision advice\n", advice_markdown(advice)]
    write_text(stage_dir / "report.md", "\n".join(md))
    con.print(advice_markdown(advice))
    for r in rows:
        ctx.add_result(r)
    return {"quantized": records, "advice": [{k: v for k, v in a.items() if k != "options"} for a in advice],
            "report": str(stage_dir / "report.md")}


def _quantize(fp32_path, out, precision, calibration, cfg: QuantizeStage, val, con):
    from ..quantize.api import quantize_onnx

    spec = cfg.quantize.model_copy(update={"precision": precision, **({} if precision == "int8" else {"budget": None, "min_agreement": None})})
    return quantize_onnx(fp32_path, out, precision, calibration, spec=spec, val=val, log=lambda s: con.print(f"    {s}"),
                         target=cfg.target)


def _want_qat(cfg: QuantizeStage, rep: dict) -> bool:
    if cfg.qat.mode == "never":
        return False
    return cfg.qat.mode == "always" or (cfg.quantize.has_budget and not rep.get("budget_met", True))


@dataclass
class _Ledger:
    """The stage's measurements: the val images, a timing sample, the threads, and the rows so far."""
    val: Any
    sample: Any
    threads: Optional[int]
    rows: list = field(default_factory=list)

    def add(self, role: str, name: str, precision: str, path, top1: float) -> None:
        self.rows.append(_row(role, name, precision, path, top1, self.sample, self.threads))


def _qat(ctx, cfg: QuantizeStage, role: str, model, fp32, stage_dir: Path, ledger: _Ledger) -> dict:
    """QAT with KD from the run's teacher (or the FP32 model itself); the export joins the artifacts."""
    import copy

    from ..backends import Artifact
    from ..distill import KDTeacher
    from ..models import model_name
    from ..quantize.qat import export_qat_onnx, qat_finetune
    from ..targets import resolve_target

    q = cfg.qat
    roles = [r for r in ctx.teacher_roles() if r != role]
    t_role = (roles[0] if roles else "self") if q.teacher == "auto" else q.teacher
    teacher = copy.deepcopy(model).eval() if t_role in ("self", role) else ctx.model(t_role).cpu().eval()
    adapter = ctx.teacher_input(t_role) if t_role not in ("self", role) else None
    train_loader, val_loader = ctx.loaders()
    target = resolve_target(cfg.target)
    prepared, summary = qat_finetune(model, train_loader, val_loader, q, ctx.sample_batch(), KDTeacher(teacher, adapter),
                                     stage_dir / role / "qat", device=ctx.device, seed=ctx.seed,
                                     seven_bit_weights=target.int8_saturates)
    name = model_name(model)
    path = stage_dir / role / f"{name}-int8-qat.onnx"
    meta = fp32.metadata.copy(precision="int8", target=target.to_dict())
    export_qat_onnx(prepared, path, ctx.input_shape, meta.plain())
    from ..eval.logits import agreement
    from ..quantize.measure import predictions

    top1, preds = predictions(path, ledger.val, ledger.threads)
    agree = agreement(preds, predictions(fp32.path, ledger.val, ledger.threads)[1])
    fp32_top1 = next(r["top1"] for r in ledger.rows if r.get("role") == role and r["precision"] == REFERENCE_PRECISION)
    meta.extra["quantization"] = {"method": "qat", "teacher": t_role, "epochs": summary["epochs_run"],
                                  "fp32_top1": fp32_top1, "top1": top1, "agreement": agree}
    Artifact(path, BACKEND, meta).save_metadata()
    ctx.add_artifact(_entry(f"{name}-qat", "int8", path, method="qat"), role)
    ledger.add(role, f"{name}-qat", "int8", path, top1)
    drop = round(fp32_top1 - top1, 3)
    return {"path": str(path), "teacher": t_role, "top1": top1, "drop": drop, "agreement": agree,
            "budget_met": cfg.quantize.within_budget(drop, agree), "epochs": summary["epochs_run"]}


def _fp32_artifact(ctx, role: str, model, stage_dir: Path):
    """The run's FP32 ONNX of `role` (from an export stage), else exported here."""
    from ..backends.build import build_artifact
    from ..models import model_name

    found = ctx.find_artifact(role, BACKEND, REFERENCE_PRECISION)
    if found is not None:
        return found
    res = build_artifact(BACKEND, model, ctx.sample(), stage_dir / role, REFERENCE_PRECISION, preprocess=ctx.preprocess)
    if res.status != "ok":
        raise RuntimeError(f"stage quantize: FP32 ONNX export of '{role}' {res.status}: {res.error}")
    ctx.add_artifact(res.record(model_name(model)), role)
    return res.artifact


def _entry(name: str, precision: str, path: Path, **extra) -> dict:
    return {"name": name, "backend": BACKEND, "precision": precision, "status": "ok", "path": str(path),
            "error": None, **extra}


def _top1(path, val, threads) -> float:
    from ..quantize.measure import top1

    return top1(path, val, threads)


def _row(role, name, precision, path, top1, sample, threads) -> dict:
    from ..backends import Artifact
    from ..bench.harness import size_mb
    from ..quantize.measure import latency_ms
    from ..targets import recorded_target
    from ..utils.timing import OtherLoad

    load = OtherLoad()  # what other processes used of the machine while this row was timed
    p50 = latency_ms(path, sample, threads, load)
    built = recorded_target(Artifact.from_path(path, BACKEND).metadata.target)
    return {"name": name, "role": role, "backend": BACKEND, "precision": precision, "status": "ok",
            "batch": 1, "threads": threads, "top1": top1, "latency_ms_p50": p50, "busy_other_pct": load.percent,
            "size_mb": size_mb(Path(path)), "path": str(path), "target": built.name if built else None}
