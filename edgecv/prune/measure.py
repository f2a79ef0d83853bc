"""What each pruning step is judged on: MACs, params, val top-1, and latency measured on a real backend.

Latency goes through the project's export (`build_artifact`) and timing harness (`benchmark_artifact`),
so a step's number is the same kind of number `edgecv bench` reports for the final artifact.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn


def size_of(model: nn.Module, input_shape: Sequence[int]) -> dict:
    from ..utils.profile import count_macs, count_params

    return {"macs": count_macs(model, tuple(input_shape)), "params": count_params(model)}


def top1(model: nn.Module, batches, device="cpu") -> float | None:
    """Val top-1 (percent) over `batches` (a loader or a list of (x, y)); None without data."""
    if batches is None:
        return None
    from ..eval.metrics import evaluate

    return round(float(evaluate(model, batches, device)["top1"]), 2)


def take_batches(loader, max_images: int | None) -> list | None:
    """The first `max_images` images of a loader as a reusable list of batches (scans reuse them)."""
    if loader is None:
        return None
    out, n = [], 0
    for x, y in loader:
        if max_images is not None and n + len(x) > max_images:
            x, y = x[: max_images - n], y[: max_images - n]
        if len(x):
            out.append((x, y))
            n += len(x)
        if max_images is not None and n >= max_images:
            break
    return out


def latency(model: nn.Module, backend: str, threads: int, input_shape: Sequence[int],
            work_dir: str | Path | None = None, timing=None) -> dict:
    """Build `model` for `backend`, time batch-1 inference: {latency_ms_p50, latency_ms_p90, backend, ...}.

    Raises RuntimeError when the backend is missing or the build fails: a latency target cannot be
    checked without it.
    """
    from ..bench import TimingConfig, benchmark_artifact
    from ..export import build_artifact

    was = model.training
    model.eval()
    sample = torch.zeros(1, *tuple(input_shape)[1:])
    with tempfile.TemporaryDirectory(prefix="edgecv-prune-", dir=work_dir) as tmp:
        res = build_artifact(backend, model, sample, tmp)
        if res.status != "ok":
            model.train(was)
            raise RuntimeError(f"cannot time the pruned model on '{backend}': {res.status}: {res.error}")
        rows = benchmark_artifact(res.artifact, batches=[1], threads=threads, reference_model=model,
                                  timing=timing or TimingConfig(warmup=10, min_runs=50, min_time_s=1.0),
                                  strict=True)
    model.train(was)
    row = rows[0]
    return {"backend": res.backend, "threads": threads, "latency_ms_p50": row.get("latency_ms_p50"),
            "latency_ms_p90": row.get("latency_ms_p90"), "agreement": row.get("agreement"),
            "max_abs_diff": row.get("max_abs_diff")}
