"""One training loop for training, fine-tuning, distillation and QAT.

It trains a *task* (forward(x, y) -> (loss, logits)) and evaluates *model* on the val loader after
every epoch. Checkpoints (best/last) are written atomically; with `resume=True` an interrupted run
continues from its last finished epoch with the same data order and RNG state, so the result equals
an uninterrupted run. Under torchrun it wraps the task in DistributedDataParallel (gloo on CPU).
"""
from __future__ import annotations

import csv
import io
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

from ..eval.metrics import evaluate
from ..utils.console import get_console
from ..utils.io import torch_save, write_text
from ..utils.options import with_fields
from .schedule import build_optimizer, build_scheduler
from .spec import TrainSpec

LAST, BEST = "last.pt", "best.pt"


def is_main_process() -> bool:
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


@dataclass(frozen=True)
class FitRun:
    """How `fit` runs: where, under which label and seed, resumed or not, and who hears of each epoch."""
    device: str | torch.device = "cpu"
    desc: str = "train"  # the progress bar's and the log's label
    resume: bool = True  # continue from out_dir/last.pt when it is there
    seed: int = 0  # data order and augmentation depend only on (seed, epoch)
    on_epoch_end: Callable[[int, dict], None] | None = None


def fit(task: nn.Module, model: nn.Module, train_loader, val_loader, spec: TrainSpec,
        out_dir: str | Path | None = None, run: FitRun | None = None, **run_fields) -> dict:
    """Train `task`, keep the best val top-1 weights in `model` (or the last, `spec.keep`); returns a summary.

    `run` (or its fields as keywords: device, desc, resume, seed, on_epoch_end) says how. `val_loader`
    may be None only with `keep: last`: then no epoch is evaluated. With `spec.threads`, torch's
    process-wide thread count is set for the training and restored afterwards."""
    run = with_fields(FitRun, run, run_fields, "fit")
    before = torch.get_num_threads()
    if spec.threads:
        torch.set_num_threads(spec.threads)
    try:
        return _fit(task, model, train_loader, val_loader, spec, Path(out_dir) if out_dir else None, run)
    finally:
        torch.set_num_threads(before)


@dataclass
class _Epoch:
    """What every training step of a fit uses."""
    runner: nn.Module  # the task, or its DDP wrapper
    task: nn.Module
    opt: torch.optim.Optimizer
    sched: object
    scaler: torch.amp.GradScaler
    spec: TrainSpec
    amp_dtype: torch.dtype | None
    device: torch.device
    mixer: object | None = None  # timm's Mixup
    time_used: Callable[[], float] | None = None  # share of the time budget spent


def _fit(task, model, train_loader, val_loader, spec: TrainSpec, out: Path | None, run: FitRun) -> dict:
    if val_loader is None and spec.keep == "best":
        raise ValueError("keeping the best epoch needs val data; give a val loader or set keep: last")
    device = torch.device(run.device)
    desc, seed = run.desc, run.seed
    task.to(device)
    if spec.channels_last:
        task.to(memory_format=torch.channels_last)
    steps_per_epoch = len(train_loader) if spec.max_steps_per_epoch is None else min(len(train_loader), spec.max_steps_per_epoch)
    opt = build_optimizer(task.parameters(), spec)
    time_used = _time_used(spec.time_limit_min)
    sched = build_scheduler(opt, spec, steps_per_epoch, time_used)
    amp_dtype = _amp_dtype(spec.amp, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    distributed = dist.is_available() and dist.is_initialized()
    if distributed and spec.time_limit_min:
        raise ValueError("time_limit_min is for single-process training: DDP ranks would stop at different steps")
    runner = nn.parallel.DistributedDataParallel(task) if distributed else task
    epoch_run = _Epoch(runner, task, opt, sched, scaler, spec, amp_dtype, device, _mixer(spec, model), time_used)

    state = {"epoch": 0, "best_top1": -1.0, "best_epoch": -1, "history": [], "bad_epochs": 0}
    if run.resume and out and (out / LAST).is_file():
        state = _load_last(out / LAST, task, opt, sched, scaler)
        if is_main_process():
            get_console().print(f"[dim]{desc}: resuming from {out / LAST} at epoch {state['epoch']}[/]")
    best_state = _best_weights(out, model) if state["best_epoch"] >= 0 else None

    console = get_console()
    tb = _tensorboard(out) if out and is_main_process() else None
    stopped_early = time_up = False
    # a task may replay earlier epochs' data (the KD teacher cache) and be told when epochs begin and end
    data_epoch = getattr(task, "data_epoch", lambda e: e)
    begin_epoch, end_epoch = getattr(task, "begin_epoch", None), getattr(task, "end_epoch", None)
    if distributed and getattr(task, "cache", None) is not None:
        raise ValueError("teacher_cache is for single-process training: under DDP each rank sees other batches")
    for epoch in range(state["epoch"], spec.epochs):
        _seed_epoch(train_loader, seed, data_epoch(epoch))
        t0 = time.perf_counter()
        if begin_epoch:
            begin_epoch(epoch)
        train_loss, train_acc = _train_epoch(epoch_run, train_loader, steps_per_epoch, f"{desc} {epoch + 1}/{spec.epochs}")
        if end_epoch:
            end_epoch()
        train_seconds = time.perf_counter() - t0
        time_up = time_used is not None and time_used() >= 1
        val = evaluate(model, val_loader, device) if val_loader is not None else {"top1": None, "top5": None}
        row = {"epoch": epoch + 1, "train_loss": round(train_loss, 5), "train_top1": round(train_acc, 3),
               "val_top1": _round(val["top1"]), "val_top5": _round(val["top5"]),
               "lr": opt.param_groups[0]["lr"], "train_seconds": round(train_seconds, 2),
               "seconds": round(time.perf_counter() - t0, 2)}
        state["history"].append(row)
        # keep: last makes every epoch the kept one (val, if any, only reports)
        improved = spec.keep == "last" or val["top1"] > state["best_top1"]
        if improved:
            state.update(best_top1=val["top1"] if val["top1"] is not None else -1.0, best_epoch=epoch + 1, bad_epochs=0)
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch + 1
        if is_main_process():
            shown = (f", val top-1 {val['top1']:.2f}% top-5 {val['top5']:.2f}%{' (best)' if improved and spec.keep == 'best' else ''}"
                     if val["top1"] is not None else "")
            console.print(f"{desc} {epoch + 1}/{spec.epochs}: loss {train_loss:.3f}, train {train_acc:.1f}%{shown}", soft_wrap=True)
            if out:
                if improved:
                    torch_save({"state_dict": best_state, "epoch": epoch + 1, "val_top1": val["top1"]}, out / BEST)
                _save_last(out / LAST, task, opt, sched, scaler, state)
                _write_metrics(out, state["history"])
            if tb:
                for k, v in row.items():
                    if k != "epoch" and v is not None:
                        tb.add_scalar(f"{desc}/{k}", v, epoch + 1)
        if run.on_epoch_end:
            run.on_epoch_end(epoch, row)
        if time_up:
            if is_main_process():
                console.print(f"{desc}: time limit of {spec.time_limit_min:g} min reached in epoch {epoch + 1} (lr annealed)")
            break
        if spec.early_stopping and state["bad_epochs"] >= spec.early_stopping:
            stopped_early = True
            if is_main_process():
                console.print(f"{desc}: early stop, no val gain for {spec.early_stopping} epochs")
            break
    if tb:
        tb.close()
    if spec.channels_last:  # hand back the usual layout: export, pruning and callers expect it
        task.to(memory_format=torch.contiguous_format)
    if best_state is not None:
        model.load_state_dict(best_state)
    return {"best_top1": state["best_top1"], "best_epoch": state["best_epoch"], "epochs_run": state["epoch"],
            "stopped_early": stopped_early, "time_up": time_up, "history": state["history"]}


def _mixer(spec: TrainSpec, model: nn.Module):
    """timm's batch mixup/CutMix, or None. Targets become class-probability rows, which cross-entropy
    and the KD hard term take as they are; the teachers see the same mixed images."""
    if not (spec.mixup or spec.cutmix) or not spec.mix_prob:
        return None
    from timm.data import Mixup

    num_classes = getattr(model, "num_classes", None)
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"mixup/cutmix need the model's class count; {type(model).__name__} has no `num_classes`")
    return Mixup(mixup_alpha=spec.mixup, cutmix_alpha=spec.cutmix, prob=spec.mix_prob, label_smoothing=0.0,
                 num_classes=num_classes)


def _time_used(limit_min: float | None) -> Callable[[], float] | None:
    """Share of the wall-clock budget spent since now (None: no budget)."""
    if limit_min is None:
        return None
    start = time.perf_counter()
    return lambda: (time.perf_counter() - start) / (limit_min * 60)


def _round(value, digits: int = 3):
    return None if value is None else round(value, digits)


def _train_epoch(e: _Epoch, loader, steps: int, label: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    task, opt, scaler, spec, device, mixer = e.task, e.opt, e.scaler, e.spec, e.device, e.mixer
    task.train()
    total_loss = correct = seen = 0.0
    autocast = torch.autocast(device.type, dtype=e.amp_dtype) if e.amp_dtype else nullcontext()
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("loss {task.fields[loss]:.3f} acc {task.fields[acc]:.1f}%"),
                        TimeRemainingColumn(), console=get_console(), transient=True,
                        disable=not is_main_process() or not get_console().is_terminal)
    with progress:
        bar = progress.add_task(label, total=steps, loss=0.0, acc=0.0)
        for step, (x, y) in enumerate(loader):
            if step >= steps or (e.time_used is not None and e.time_used() >= 1):
                break
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if mixer is not None and x.shape[0] % 2 == 0:  # timm mixes a batch with its mirror: needs pairs
                x, y = mixer(x, y)
            if spec.channels_last and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast:
                loss, logits = e.runner(x, y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if spec.grad_clip:
                scaler.unscale_(opt)
                nn.utils.clip_grad_norm_(task.parameters(), spec.grad_clip)
            scaler.step(opt)
            scaler.update()
            e.sched.step()
            n = y.shape[0]
            total_loss += loss.item() * n
            truth = y.argmax(1) if y.dim() == 2 else y  # a mixed image counts as its larger share's class
            correct += (logits.argmax(1) == truth).sum().item()
            seen += n
            progress.update(bar, advance=1, loss=total_loss / seen, acc=100 * correct / seen)
    return total_loss / max(seen, 1), 100 * correct / max(seen, 1)


def _seed_epoch(loader, seed: int, epoch: int) -> None:
    """Data order and augmentation depend only on (seed, epoch): what makes resume exact."""
    torch.manual_seed(seed * 1000 + epoch)
    np.random.seed((seed * 1000 + epoch) % 2**32)  # timm's mixup draws from numpy
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_seed"):  # data/loaders.SeededShuffle
        sampler.set_seed(seed)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    gen = getattr(loader, "generator", None)
    if gen is not None:
        gen.manual_seed(seed * 1000 + epoch)


def _amp_dtype(amp: str, device: torch.device):
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return None
    if amp == "bf16":
        return torch.bfloat16
    return torch.float16 if device.type == "cuda" else torch.bfloat16


def _save_last(path: Path, task, opt, sched, scaler, state) -> None:
    torch_save({"task": task.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "scaler": scaler.state_dict(), "state": state}, path)


def _load_last(path: Path, task, opt, sched, scaler) -> dict:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    task.load_state_dict(ckpt["task"])
    opt.load_state_dict(ckpt["optimizer"])
    sched.load_state_dict(ckpt["scheduler"])
    scaler.load_state_dict(ckpt["scaler"])
    return ckpt["state"]


def _best_weights(out: Path | None, model: nn.Module):
    if out and (out / BEST).is_file():
        return torch.load(out / BEST, map_location="cpu", weights_only=True)["state_dict"]
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _write_metrics(out: Path, history: list[dict]) -> None:
    buf = io.StringIO()
    fields = list(dict.fromkeys(k for row in history for k in row))  # rows from an older version may lack some
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    w.writerows(history)
    write_text(out / "metrics.csv", buf.getvalue())


def _tensorboard(out: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is a base dependency, but a trimmed install should still train
        return None
    return SummaryWriter(str(out / "tensorboard"))
