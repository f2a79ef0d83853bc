"""top-1/5, restricted top-1, parity and fixed-batch evaluation on hand-made logits."""
from __future__ import annotations

import numpy as np
import pytest

from edgecv.bench.accuracy import parity, run_all, topk


def test_topk_and_restricted_top1():
    logits = np.array([[0.1, 0.9, 0.0, 0.0], [0.8, 0.1, 0.05, 0.05], [0.0, 0.2, 0.3, 0.5]], np.float32)
    targets = np.array([1, 2, 3])
    out = topk(logits, targets, restricted=np.array([2, 3]))
    assert out["top1"] == pytest.approx(200 / 3, abs=0.01)  # rows 0 and 2 right
    assert out["top5"] == 100.0  # 4 classes: top-5 covers all
    # among outputs {2, 3}: row 0 -> 2 (wrong), row 1 -> 2 (right), row 2 -> 3 (right)
    assert out["top1_restricted"] == pytest.approx(200 / 3, abs=0.01)


def test_parity_counts_agreement_and_max_difference():
    ref = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]], np.float32)
    out = ref.copy()
    out[3] = [0.7, 0.6]
    p = parity(out, ref)
    assert p["agreement"] == 75.0 and p["max_abs_diff"] == pytest.approx(0.7)
    with pytest.raises(ValueError, match="outputs"):
        parity(out[:, :1], ref)


def test_fixed_batch_runners_get_padded_chunks():
    seen = []

    def fixed_two(x):
        assert len(x) == 2
        seen.append(len(x))
        return x.reshape(2, -1)[:, :3] * 2

    x = np.arange(5 * 3, dtype=np.float32).reshape(5, 3)
    out = run_all(fixed_two, [x], fixed_batch=2)
    assert out.shape == (5, 3) and np.allclose(out, x * 2) and len(seen) == 3
