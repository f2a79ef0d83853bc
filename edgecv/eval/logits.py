"""Scoring logits from any runner (a function NCHW float32 numpy batch -> logits): top-k, parity.

Pure numpy, below every backend: the quantizers, the pruning latency check and the benchmark
harness all score runners with these same functions.
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def topk_indices(logits: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest logits per row, best first."""
    k = min(k, logits.shape[1])
    return np.argsort(-logits, axis=1)[:, :k]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, computed in float64 (scores of far-apart logits stay exact to 1e-6)."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def top_k(logits: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, probabilities) of the k most likely classes per row, best first."""
    idx = topk_indices(logits, k)
    return idx, np.take_along_axis(softmax(logits), idx, axis=1)


def run_all(runner: Callable, batches, fixed_batch: int | None = None) -> np.ndarray:
    """Concatenated logits of `runner` over batches; split into chunks for fixed-batch artifacts."""
    outs = []
    for x in batches:
        if fixed_batch and len(x) != fixed_batch:
            for s in range(0, len(x), fixed_batch):
                chunk = x[s : s + fixed_batch]
                pad = fixed_batch - len(chunk)
                if pad:  # pad the last chunk with copies, then drop their outputs
                    chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, axis=0)])
                outs.append(np.asarray(runner(chunk)).reshape(fixed_batch, -1)[: fixed_batch - pad])
        else:
            outs.append(np.asarray(runner(x)).reshape(len(x), -1))
    return np.concatenate(outs).astype(np.float32)


def topk(logits: np.ndarray, targets: np.ndarray, restricted: np.ndarray | None = None) -> dict:
    """top1/top5 in percent; with `restricted` output indices, top-1 among those too."""
    order = topk_indices(logits, 5)
    out = {
        "top1": round(float((order[:, 0] == targets).mean() * 100), 2),
        "top5": round(float((order == targets[:, None]).any(axis=1).mean() * 100), 2),
    }
    if restricted is not None:
        pred = restricted[np.argmax(logits[:, restricted], axis=1)]
        out["top1_restricted"] = round(float((pred == targets).mean() * 100), 2)
    return out


def agreement(preds: np.ndarray, reference: np.ndarray) -> float:
    """Percent of images whose predicted class equals the reference's, to 2 decimals."""
    return round(float((preds == reference).mean() * 100), 2)


def parity(logits: np.ndarray, reference: np.ndarray) -> dict:
    """Top-1 agreement (percent) and max abs difference of logits against the reference."""
    if logits.shape != reference.shape:
        raise ValueError(f"artifact outputs {logits.shape[1:]} per image but the PyTorch source gives {reference.shape[1:]}")
    return {
        "agreement": agreement(logits.argmax(1), reference.argmax(1)),
        "max_abs_diff": float(np.abs(logits - reference).max()),
    }


def score_runner(runner: Callable, evalset, fixed_batch: int | None = None) -> tuple[dict, np.ndarray]:
    """(top-k scores, logits) of `runner` over an EvalSet-like object (`batches()` of (x, y),
    `restricted_outputs`)."""
    ys: list[np.ndarray] = []

    def images():  # one pass over the data collects the targets alongside
        for x, y in evalset.batches():
            ys.append(y)
            yield x

    logits = run_all(runner, images(), fixed_batch)
    targets = np.concatenate(ys)
    return {**topk(logits, targets, evalset.restricted_outputs), "images": int(len(targets))}, logits
