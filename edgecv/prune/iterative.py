"""`prune_model(...)`: iterative structured pruning with fine-tuning (KD) between steps.

Each step prunes toward its share of the target (geometric: step k of N aims at target^(k/N)), or,
for a latency target, toward the MACs ratio the measured latencies predict; then fine-tunes and
records MACs, params, latency and val top-1 side by side, because MACs are not latency.
"""
from __future__ import annotations

import csv
import io
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..distill.distiller import KDTeacher
from ..models import model_name
from ..utils.options import with_fields
from . import measure
from .spec import PruneSpec

STEP_COLUMNS = ["step", "macs", "macs_ratio", "params", "params_ratio", "latency_ms_p50", "top1", "seconds"]


@dataclass
class PruneResult:
    model: nn.Module
    history: dict
    steps: list[dict]  # step 0 is the original model
    target: str
    met: bool
    layer_ratios: dict[str, float] = field(default_factory=dict)
    sensitivity: list[dict] | None = None
    files: dict[str, str] = field(default_factory=dict)

    @property
    def final(self) -> dict:
        return self.steps[-1]


@dataclass
class PruneRun:
    """What a pruning run works with besides its spec: data, the KD teacher, where and how it runs.

    `val_loader` gives every step's reported top-1 (and the sensitivity scan); `select_loader`, when
    given, is what each fine-tune keeps its best epoch on instead, so a reported val split is never
    also the one the weights were chosen on (e.g. a slice held out of the training images)."""
    train_loader: Any = None
    val_loader: Any = None
    select_loader: Any = None
    teacher: nn.Module | None = None  # KD teacher of the fine-tunes (spec.kd_losses)
    teacher_input: nn.Module | None = None  # re-normalises the inputs for the teacher
    input_shape: Any = None  # default: the loader's, else the model's data config
    out_dir: str | Path | None = None  # step tables, scan plots, fine-tune logs
    device: Any = "cpu"
    seed: int = 0
    console: Any = None


def prune_model(model: nn.Module, spec: PruneSpec | None = None, run: PruneRun | None = None, **options: Any) -> PruneResult:
    """Prune `model` in place to `spec`'s target; returns the steps table and the replayable history.

    `options` name PruneSpec keys (e.g. `macs_ratio=0.5, steps=3, importance="taylor"`, when no spec is
    given) or PruneRun fields (e.g. `train_loader=...`, when no run is given). The model keeps
    `edgecv_spec` and gains `edgecv_pruning` (saved by `save_model`).
    """
    from ..utils.console import get_console
    from . import checkpoint  # noqa: F401  the model it prunes is saved and rebuilt (timing, fine-tune) with its history
    from .finetune import finetune, recalibrate_bn
    from .importance import accumulate_gradients, importance
    from .latency_target import LatencyController
    from .pruner import ChannelPruner, PruneError

    run_fields = {k: options.pop(k) for k in list(options) if k in PruneRun.__dataclass_fields__}
    run = with_fields(PruneRun, run, run_fields, "prune_model")
    train_loader, val_loader, select_loader, device, seed = (run.train_loader, run.val_loader, run.select_loader,
                                                             run.device, run.seed)
    if spec is None:
        spec = PruneSpec(**options)
    elif options:
        raise TypeError("pass either a PruneSpec or keyword options, not both")
    console = run.console or get_console()
    _check_names(model, spec)  # fail before the (slow) baseline measurement
    out = Path(run.out_dir) if run.out_dir else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    model.cpu()
    model.requires_grad_(True)  # it is fine-tuned; a role frozen as a KD teacher earlier must train again
    shape = tuple(run.input_shape) if run.input_shape else _input_shape(model, train_loader)
    example = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    val = measure.take_batches(val_loader, spec.max_val_images)
    ft = spec.finetune
    teacher = KDTeacher(run.teacher, run.teacher_input, spec.kd_losses) if run.teacher is not None else None
    latency_mode = spec.latency_target
    timed = latency_mode or spec.measure_latency

    t0 = time.perf_counter()
    base = _measure(model, shape, val, spec, timed, out, device)
    steps = [{"step": 0, **base, "macs_ratio": 1.0, "params_ratio": 1.0, "seconds": 0.0}]
    console.print(f"[bold]prune[/] {model_name(model)} to {spec.describe_target(base.get('latency_ms_p50'))} in up to {spec.steps} step(s) "
                  f"({spec.importance}, {spec.allocation}): start {_fmt(steps[0])}")

    if train_loader is None and ft.epochs:
        console.print("[yellow]note:[/] no training data given: pruning without fine-tuning (accuracy is not recovered)")
    scan, layer_ratios, files = None, None, {}
    if spec.sensitivity is not None:
        from .sensitivity import ratios_from_scan, scan_sensitivity, write_scan

        sval = measure.take_batches(val_loader, spec.sensitivity.max_images)
        scan = scan_sensitivity(model, example, sval, spec.sensitivity.ratios, spec.importance, spec.ignore, device, console)
        if out:
            files.update(write_scan(scan, out, f"{model_name(model)}: top-1 drop when one group is pruned"))
        if spec.sensitivity.apply:
            layer_ratios = ratios_from_scan(scan, spec.sensitivity.max_drop)

    pruner = ChannelPruner(model, example, spec, layer_ratios)
    target_ms = spec.latency_ms if spec.latency_ms is not None else (
        base["latency_ms_p50"] * spec.latency_ratio if spec.latency_ratio is not None else None)
    target = spec.describe_target(base.get("latency_ms_p50"))
    controller = LatencyController(target_ms, floor=spec.min_macs_ratio, max_cut=spec.max_step_cut) if latency_mode else None
    if controller:
        controller.observe(1.0, base["latency_ms_p50"])
    kind = "macs" if latency_mode else spec.target_kind.split("_")[0]
    size = {"macs": lambda: measure.size_of(model, shape)["macs"] / base["macs"],
            "params": lambda: measure.size_of(model, shape)["params"] / base["params"]}[kind]
    met = controller.met if controller else False
    for k in range(1, spec.steps + 1):
        if met:
            break
        t_step = time.perf_counter()
        if importance(spec.importance).needs_gradients:
            accumulate_gradients(model, itertools.islice(train_loader or [], spec.taylor_batches), name=spec.importance)
        goal = controller.next_macs_ratio() if controller else getattr(spec, spec.target_kind) ** (k / spec.steps)
        try:
            pruner.prune_until(size, goal, f"{kind} ratio")
        finally:
            model.zero_grad(set_to_none=True)
        pruner.record()
        if train_loader is not None and spec.bn_recalibration_batches:
            recalibrate_bn(model, itertools.islice(train_loader, spec.bn_recalibration_batches), device)
        row = _measure(model, shape, None, spec, timed, out, device)
        summary = finetune(model, train_loader, select_loader or val_loader, ft, teacher, out / f"step{k}" if out else None,
                           device=device, desc=f"prune step {k}/{spec.steps}", seed=seed + k)
        row["top1"] = measure.top1(model, val, device)
        row.update(step=k, macs_ratio=round(row["macs"] / base["macs"], 4),
                   params_ratio=round(row["params"] / base["params"], 4),
                   seconds=round(time.perf_counter() - t_step, 1), finetune_epochs=summary["epochs_run"] if summary else 0)
        steps.append(row)
        console.print(f"prune step {k}/{spec.steps}: {_fmt(row)}")
        if controller:
            controller.observe(row["macs_ratio"], row["latency_ms_p50"])
            met = controller.met
            if not met and controller.exhausted:
                break
        else:
            met = row[f"{kind}_ratio"] <= getattr(spec, spec.target_kind) + 1e-9
    if spec.final_epochs and len(steps) > 1:
        t_step = time.perf_counter()
        summary = finetune(model, train_loader, select_loader or val_loader, ft.model_copy(update={"epochs": spec.final_epochs}),
                           teacher, out / "final" if out else None, device=device, desc="prune final fine-tune", seed=seed + 1000)
        steps.append({**steps[-1], "step": "final", "top1": measure.top1(model, val, device),
                      "seconds": round(time.perf_counter() - t_step, 1), "finetune_epochs": summary["epochs_run"] if summary else 0})
    history = pruner.finish()
    if latency_mode and not met:
        console.print(f"[yellow]latency target not met:[/] {target}; reached "
                      f"{steps[-1]['latency_ms_p50']} ms at {steps[-1]['macs_ratio']}x MACs after {len(steps) - 1} step(s)")
    if not latency_mode and not met:
        raise PruneError(f"pruning stopped before {spec.describe_target()} (reached {steps[-1][kind + '_ratio']})")
    result = PruneResult(model, history, steps, target, met, layer_ratios or dict(spec.layer_ratios), scan, files)
    if out:
        result.files.update(write_steps(steps, out))
    console.print(f"[bold]prune[/] done in {time.perf_counter() - t0:.0f}s: {_fmt(steps[-1])}")
    return result


def _check_names(model: nn.Module, spec: PruneSpec) -> None:
    from .importance import importance
    from .pruner import resolve_layers

    resolve_layers(model, spec.ignore, "ignore")
    resolve_layers(model, spec.layer_ratios, "layer_ratios")
    importance(spec.importance).check(model, model_name(model))


def _measure(model, shape, val, spec: PruneSpec, timed: bool, out, device) -> dict:
    row: dict[str, Any] = {**measure.size_of(model, shape), "top1": measure.top1(model, val, device)}
    row["latency_ms_p50"] = None
    if timed:
        lat = measure.latency(model, spec.backend, spec.threads, shape, out)
        row.update(latency_ms_p50=lat["latency_ms_p50"], latency_backend=f"{lat['backend']}/{spec.threads}t",
                   onnx_max_abs_diff=lat.get("max_abs_diff"), busy_other_pct=lat.get("busy_other_pct"))
    return row


def _input_shape(model: nn.Module, train_loader) -> tuple[int, ...]:
    if train_loader is not None:
        x = next(iter(train_loader))[0]
        return (1, *x.shape[1:])
    from ..models import data_config

    return (1, *data_config(model)["input_size"])


def _fmt(row: dict) -> str:
    lat = f", p50 {row['latency_ms_p50']:.3f} ms" if row.get("latency_ms_p50") is not None else ""
    acc = f", top-1 {row['top1']:.2f}%" if row.get("top1") is not None else ""
    return (f"{row['macs'] / 1e6:.2f} M MACs ({row.get('macs_ratio', 1.0):.3f}x), "
            f"{row['params'] / 1e6:.3f} M params ({row.get('params_ratio', 1.0):.3f}x){lat}{acc}")


def steps_markdown(steps: list[dict]) -> str:
    from ..utils.tables import markdown_table

    def row(r: dict) -> list[str]:
        lat = f"{r['latency_ms_p50']:.3f}" if r.get("latency_ms_p50") is not None else "-"
        acc = f"{r['top1']:.2f}" if r.get("top1") is not None else "-"
        return [r["step"], f"{r['macs'] / 1e6:.2f}", f"{r['macs_ratio']:.3f}", f"{r['params'] / 1e6:.3f}",
                f"{r['params_ratio']:.3f}", lat, acc]

    return markdown_table(["step", "MACs (M)", "MACs ratio", "params (M)", "params ratio", "p50 latency (ms)",
                           "val top-1 (%)"], map(row, steps), "lrrrrrr")


def write_steps(steps: list[dict], out_dir: Path) -> dict:
    from ..utils.io import write_text

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[*STEP_COLUMNS, "latency_backend", "finetune_epochs"], extrasaction="ignore")
    w.writeheader()
    w.writerows(steps)
    return {"steps_csv": str(write_text(out_dir / "prune_steps.csv", buf.getvalue())),
            "steps_md": str(write_text(out_dir / "prune_steps.md", steps_markdown(steps)))}
