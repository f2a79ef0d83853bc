"""Accuracy of any runner on an EvalSet, and its parity with the PyTorch source model."""
from __future__ import annotations

from typing import Callable

import numpy as np

PARITY_RANDOM_IMAGES = 32  # parity on random inputs when no labelled data is given


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
    order = np.argsort(-logits, axis=1)
    k = min(5, logits.shape[1])
    out = {
        "top1": round(float((order[:, 0] == targets).mean() * 100), 2),
        "top5": round(float((order[:, :k] == targets[:, None]).any(axis=1).mean() * 100), 2),
    }
    if restricted is not None:
        pred = restricted[np.argmax(logits[:, restricted], axis=1)]
        out["top1_restricted"] = round(float((pred == targets).mean() * 100), 2)
    return out


def parity(logits: np.ndarray, reference: np.ndarray) -> dict:
    """Top-1 agreement (percent) and max abs difference of logits against the reference."""
    if logits.shape != reference.shape:
        raise ValueError(f"artifact outputs {logits.shape[1:]} per image but the PyTorch source gives {reference.shape[1:]}")
    return {
        "agreement": round(float((logits.argmax(1) == reference.argmax(1)).mean() * 100), 2),
        "max_abs_diff": float(np.abs(logits - reference).max()),
    }


def evaluate_runner(runner: Callable, evalset=None, reference_model=None, fixed_batch: int | None = None,
                    input_shape=(3, 32, 32), seed: int = 0) -> dict:
    """Accuracy on `evalset` (if any) and parity with `reference_model` (if any).

    Parity is measured on the real images when there are some, else on seeded random inputs.
    """
    out: dict = {}
    if evalset is not None:
        ys: list[np.ndarray] = []

        def images():  # one pass over the data collects the targets alongside
            for x, y in evalset.batches():
                ys.append(y)
                yield x

        logits = run_all(runner, images(), fixed_batch)
        targets = np.concatenate(ys)
        out.update(topk(logits, targets, evalset.restricted_outputs), images=int(len(targets)))
        if reference_model is not None:
            ref = evalset.reference_logits(reference_model)
            out.update(parity(logits, ref), parity_on="val")
            out["reference_top1"] = topk(ref, targets)["top1"]
    elif reference_model is not None:
        from ..backends.torch_eager import module_runner

        x = np.random.default_rng(seed).standard_normal((PARITY_RANDOM_IMAGES, *input_shape)).astype(np.float32)
        out.update(parity(run_all(runner, [x], fixed_batch), module_runner(reference_model)(x)), parity_on="random")
    return out
