"""Stage `benchmark`: time, evaluate and check every artifact of the run against its PyTorch source."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydantic import Field, field_validator

from ..bench import INT8_MIN_AGREEMENT
from .context import artifact_role
from .registry import StageConfig, register_stage


class BenchmarkStage(StageConfig):
    artifacts: Optional[list[str]] = Field(None, description="only artifacts whose role, backend or name is listed; default: all")
    batch: list[int] = Field([1], min_length=1, description="batch sizes to time")
    threads: Optional[int] = Field(None, ge=1, description="intra-op threads for every backend, PyTorch included; "
                                   "default: the usable cores")
    warmup: int = Field(10, ge=0)
    min_runs: int = Field(50, ge=1)
    min_time_s: float = Field(1.0, ge=0)
    max_time_s: float = Field(60.0, gt=0)
    min_agreement: float = Field(99.0, ge=0, le=100, description="below this top-1 agreement with PyTorch (%) a float "
                                 "row is `inaccurate` (integer rows: min_int8_agreement)")
    max_top1_drop: float = Field(1.0, ge=0, description="more top-1 points lost than this vs PyTorch makes a row `inaccurate`")
    min_int8_agreement: float = Field(INT8_MIN_AGREEMENT, ge=0, le=100, description="below this top-1 agreement with its FP32 source (%) "
                                      "an integer (INT8) row is `inaccurate`; min_agreement judges the other rows")
    torch_reference: bool = Field(True, description="add the PyTorch eager rows each artifact is compared with")
    eval_batch: int = Field(64, ge=1)
    emulate: list[str] = Field([], description="CPU classes to check accuracy on under QEMU user-mode emulation "
                               "(arm64 = arm64-a76, arm64-a53, arm64-i8mm, x86-avx2): each ONNX Runtime and TFLite artifact of "
                               "`emulate_precisions` gets one row per class, marked `emulated`, without latency")
    emulate_precisions: list[str] = Field(["int8"], min_length=1, description="precisions emulated (int8: whether "
                                          "the INT8 builds hold on ARM's kernels)")
    emulate_images: Optional[int] = Field(200, ge=1, description="a seeded, stratified subset of the val split for "
                                          "the emulated rows (emulated inference is slow); null: all of it")

    @field_validator("emulate")
    @classmethod
    def _known_classes(cls, names: list[str]) -> list[str]:
        from ..bench.emulate.targets import target

        return list(dict.fromkeys(target(n).name for n in names))  # unknown: one line listing the classes


@register_stage("benchmark", BenchmarkStage)
def run(ctx, cfg: BenchmarkStage, stage_dir: Path) -> dict:
    """Rows for the torch reference and every exported artifact; writes a ledger into the stage folder."""
    from ..backends import REFERENCE_BACKEND, REFERENCE_PRECISION, module_runner
    from ..backends.build import build_artifact
    from ..bench import Thresholds, TimingConfig, benchmark_artifact, fingerprint, write_ledger
    from ..bench.environment import usable_cores
    from ..bench.deploy import deploy_choices
    from ..bench.ledger import add_speedups
    from ..models import model_name
    from ..utils.console import get_console

    con = get_console()
    threads = cfg.threads or usable_cores()  # one explicit count for every backend, torch included
    data = ctx.evalset(batch_size=cfg.eval_batch)
    timing = TimingConfig(cfg.warmup, cfg.min_runs, cfg.min_time_s, cfg.max_time_s)
    thresholds = Thresholds(cfg.min_agreement, cfg.max_top1_drop, cfg.min_int8_agreement)
    common = dict(data=data, batches=cfg.batch, threads=threads, timing=timing, thresholds=thresholds)
    # the emulated rows' images: one stratified subset of the val split for every artifact and class
    emulated = ctx.evalset(max_images=cfg.emulate_images, batch_size=cfg.eval_batch) if cfg.emulate else None

    entries = [a for a in ctx.artifacts if _selected(a, cfg.artifacts)]
    roles = list(dict.fromkeys(artifact_role(a) for a in entries if artifact_role(a) in ctx.models)) or ["student"]
    rows: list[dict] = []
    for role in roles:
        model = ctx.model(role).cpu().eval()
        if cfg.torch_reference:
            con.print(f"  benchmarking {role} (torch reference)")
            built = build_artifact(REFERENCE_BACKEND, model, ctx.sample(), stage_dir / REFERENCE_BACKEND / role,
                                   REFERENCE_PRECISION, preprocess=ctx.preprocess)
            if built.status == "ok":
                # The in-memory model is the reference (a pruned one may not reload from a plain file).
                rows += benchmark_artifact(built.artifact, reference_model=model, name=model_name(model),
                                           runner=module_runner(model, threads), parity=False,
                                           extra={"role": role}, **common)
        for a in (e for e in entries if artifact_role(e) == role):
            rows += _artifact_rows(a, model, common, con)
            rows += _emulated_rows(cfg, a, model, emulated, common, con)
    for a in (e for e in entries if artifact_role(e) not in ctx.models):  # artifacts with no PyTorch source here
        rows += _artifact_rows(a, None, common, con)
        rows += _emulated_rows(cfg, a, None, emulated, common, con)

    add_speedups(rows)
    for row in rows:
        ctx.add_result(row)
    env = fingerprint(threads)
    files = write_ledger(stage_dir, rows, env, title=f"{ctx.recipe.name}: benchmark")
    con.print(f"  {len(rows)} rows -> {files['report']} (the run's report prints them)", markup=False)
    return {"rows": len(rows), "ledger": {k: str(v) for k, v in files.items()},
            "statuses": {f"{r['name']}/{r['backend']}/{r['precision']}/b{r['batch']}"
                         + (f"/{r['emulated']}" if r.get("emulated") else ""): r["status"] for r in rows},
            "deploy": deploy_choices(rows, cfg.max_top1_drop)}  # timed rows only: emulated ones have no latency


def _artifact_rows(a: dict, model, common: dict, con) -> list[dict]:
    from ..backends import REFERENCE_PRECISION, Artifact
    from ..bench import benchmark_artifact
    from ..bench.harness import LEDGER_FIELDS
    from ..utils.errors import first_line

    role = artifact_role(a)
    base = {**dict.fromkeys(LEDGER_FIELDS), "name": a.get("name") or role, "backend": a.get("backend"),
            "precision": a.get("precision", REFERENCE_PRECISION), "role": role, "threads": common["threads"]}
    if a.get("status", "ok") != "ok" or not a.get("path"):
        return [{**base, "batch": b, "status": a.get("status", "export_failed"), "reason": a.get("error")} for b in common["batches"]]
    con.print(f"  benchmarking {role} {a.get('backend')} {a.get('precision')}: {a['path']}", markup=False)
    try:
        art = Artifact.from_path(a["path"], a.get("backend"))
    except (FileNotFoundError, ValueError) as e:
        return [{**base, "batch": b, "status": "export_failed", "reason": first_line(e)} for b in common["batches"]]
    return benchmark_artifact(art, reference_model=model, name=base["name"], extra={"role": role}, **common)


def _emulated_rows(cfg: BenchmarkStage, a: dict, model, data, common: dict, con) -> list[dict]:
    """`emulate:` rows for one artifact: accuracy on each emulated CPU class, on `data` (a subset of the val split)."""
    from ..backends import Artifact
    from ..bench.emulate import EmulatedEval, emulated_rows
    from ..bench.emulate.runner import RUNTIMES

    if (not cfg.emulate or a.get("status", "ok") != "ok" or not a.get("path") or a.get("backend") not in RUNTIMES
            or a.get("precision") not in cfg.emulate_precisions):
        return []
    role = artifact_role(a)
    art = Artifact.from_path(a["path"], a.get("backend"))
    how = EmulatedEval(data=data, reference_model=model, thresholds=common["thresholds"], name=a.get("name") or role,
                       extra={"role": role}, strict=False)
    return emulated_rows(art, cfg.emulate, how, log=lambda m: con.print(f"  {m}", markup=False))


def _selected(a: dict, wanted: list[str] | None) -> bool:
    return not wanted or any(w in (artifact_role(a), a.get("backend"), a.get("name"), a.get("precision")) for w in wanted)
