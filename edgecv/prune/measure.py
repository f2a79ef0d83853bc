"""What each pruning step is judged on: MACs, params, val top-1, and latency measured on a real backend.

Latency goes through a backend (`build_artifact`, the runner it loads) and the shared timing loop,
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
    checked without it. Parity with the PyTorch model (random inputs) comes along as a check.
    """
    import numpy as np

    from ..backends import BACKENDS
    from ..backends.build import build_artifact
    from ..backends import module_runner
    from ..eval.logits import parity
    from ..utils.timing import OtherLoad, TimingConfig, latency_stats, time_runner

    was = model.training
    model.eval()
    shape = (1, *tuple(input_shape)[1:])
    try:
        with tempfile.TemporaryDirectory(prefix="edgecv-prune-", dir=work_dir) as tmp:
            res = build_artifact(backend, model, torch.zeros(shape), tmp)
            if res.status != "ok":
                raise RuntimeError(f"cannot time the pruned model on '{backend}': {res.status}: {res.error}")
            runner = BACKENDS.get(res.backend).load(res.artifact, threads)
            probe = np.random.default_rng(0).standard_normal((8, *shape[1:])).astype(np.float32)
            check = parity(np.concatenate([runner(probe[i : i + 1]) for i in range(len(probe))]),
                           module_runner(model)(probe))
            load = OtherLoad()
            cfg = timing or TimingConfig(warmup=10, min_runs=50, min_time_s=1.0)
            stats = latency_stats(time_runner(runner, probe[:1], cfg, load), 1, load)
    finally:
        model.train(was)
    return {"backend": res.backend, "threads": threads, "latency_ms_p50": stats["latency_ms_p50"],
            "latency_ms_p90": stats["latency_ms_p90"], "agreement": check["agreement"],
            "max_abs_diff": check["max_abs_diff"], "busy_other_pct": stats.get("busy_other_pct")}
