"""Accuracy, output error and latency of an ONNX file, as the quantizers need them (ONNX Runtime, CPU)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

STEP_TIMING = dict(warmup=5, min_runs=30, min_time_s=0.5, max_time_s=20.0)  # per budget step: short but stable


def onnx_runner(path: str | Path, threads: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
    from ..backends.onnxruntime_backend import open_session

    sess = open_session(path, threads)
    name = sess.get_inputs()[0].name

    def run(x: np.ndarray) -> np.ndarray:
        return sess.run(None, {name: x})[0]

    return run


def logits(path: str | Path, images: np.ndarray, threads: int | None = None, batch: int = 64) -> np.ndarray:
    run = onnx_runner(path, threads)
    return np.concatenate([run(images[i : i + batch]) for i in range(0, len(images), batch)]).astype(np.float32)


def relative_error(out: np.ndarray, ref: np.ndarray) -> float:
    """||out - ref||^2 / ||ref||^2 over all logits: 0 is exact; scale-free across models."""
    return float(np.sum((out - ref) ** 2) / max(float(np.sum(ref**2)), 1e-12))


def top1(path: str | Path, evalset, threads: int | None = None) -> float:
    """Top-1 (percent) of the file on an edgecv EvalSet."""
    from ..bench.accuracy import evaluate_runner

    return float(evaluate_runner(onnx_runner(path, threads), evalset)["top1"])


def latency_ms(path: str | Path, sample: np.ndarray, threads: int | None = None, **timing) -> float:
    """Median batch latency in ms of the file on `sample`."""
    from ..bench.timing import TimingConfig, time_runner

    cfg = TimingConfig(**{**STEP_TIMING, **timing})
    return round(float(np.median(time_runner(onnx_runner(path, threads), sample, cfg))) * 1000, 4)
