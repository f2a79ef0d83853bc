"""Accuracy of any runner on an EvalSet, and its parity with the PyTorch source model."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..eval.logits import parity, run_all, score_runner, topk

PARITY_RANDOM_IMAGES = 32  # parity on random inputs when no labelled data is given


def evaluate_runner(runner: Callable, evalset=None, reference_model=None, fixed_batch: int | None = None,
                    input_shape=(3, 32, 32), seed: int = 0) -> dict:
    """Accuracy on `evalset` (if any) and parity with `reference_model` (if any).

    Parity is measured on the real images when there are some, else on seeded random inputs.
    """
    out: dict = {}
    if evalset is not None:
        scores, logits = score_runner(runner, evalset, fixed_batch)
        out.update(scores)
        if reference_model is not None:
            ref = evalset.reference_logits(reference_model)
            out.update(parity(logits, ref), parity_on="val")
            out["reference_top1"] = topk(ref, evalset.targets())["top1"]
    elif reference_model is not None:
        from ..backends import module_runner

        x = random_images(input_shape, seed)
        out.update(parity(run_all(runner, [x], fixed_batch), module_runner(reference_model)(x)), parity_on="random")
    return out


def random_images(input_shape=(3, 32, 32), seed: int = 0) -> np.ndarray:
    """The seeded random batch parity is measured on when there are no labelled images."""
    return np.random.default_rng(seed).standard_normal((PARITY_RANDOM_IMAGES, *input_shape)).astype(np.float32)
