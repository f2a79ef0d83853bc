"""Accuracy, output error and latency of an ONNX file, as the quantizers need them.

Files are run through the `onnxruntime` backend's own runner, the one the harness times."""
from __future__ import annotations

from pathlib import Path

import numpy as np

STEP_TIMING = dict(warmup=5, min_runs=30, min_time_s=0.5, max_time_s=20.0)  # per budget step: short but stable


def onnx_runner(path: str | Path, threads: int | None = None):
    from ..backends import BACKENDS, Artifact
    from .spec import BACKEND

    return BACKENDS.get(BACKEND).load(Artifact.from_path(path, BACKEND), threads)


def logits(path: str | Path, images: np.ndarray, threads: int | None = None, batch: int = 64) -> np.ndarray:
    run = onnx_runner(path, threads)
    return np.concatenate([run(images[i : i + batch]) for i in range(0, len(images), batch)]).astype(np.float32)


def relative_error(out: np.ndarray, ref: np.ndarray) -> float:
    """||out - ref||^2 / ||ref||^2 over all logits: 0 is exact; scale-free across models."""
    return float(np.sum((out - ref) ** 2) / max(float(np.sum(ref**2)), 1e-12))


def top1(path: str | Path, evalset, threads: int | None = None) -> float:
    """Top-1 (percent) of the file on an edgecv EvalSet."""
    return predictions(path, evalset, threads)[0]


def predictions(path: str | Path, evalset, threads: int | None = None) -> tuple[float, np.ndarray]:
    """(top-1 percent, each image's predicted class) of the file on an edgecv EvalSet."""
    from ..eval.logits import score_runner

    scores, out = score_runner(onnx_runner(path, threads), evalset)
    return float(scores["top1"]), out.argmax(1)



def latency_ms(path: str | Path, sample: np.ndarray, threads: int | None = None, load=None, **timing) -> float:
    """Median batch latency in ms of the file on `sample`; with `load` (an OtherLoad), what other
    processes used of the machine meanwhile is measured into it."""
    from ..utils.timing import TimingConfig, time_runner

    cfg = TimingConfig(**{**STEP_TIMING, **timing})
    return round(float(np.median(time_runner(onnx_runner(path, threads), sample, cfg, load))) * 1000, 4)
