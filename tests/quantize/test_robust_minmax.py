"""`robust_minmax` calibration: each image's own min/max, then a percentile of them over the images, so
one image with extreme activations does not set the range every other image is quantized with."""
from __future__ import annotations

import json

import numpy as np
import pytest

from edgecv.quantize import QuantizeSpec
from edgecv.quantize.ptq_onnx import quantize_qdq, quantized_nodes, robust_minmax_ranges


@pytest.fixture(scope="module")
def images_with_an_outlier():
    x = np.random.default_rng(2).standard_normal((200, 3, 8, 8)).astype(np.float32)
    x[7] *= 100  # one image in 200 reaches 100x the others
    return x


def test_one_extreme_image_does_not_set_the_range(tiny, images_with_an_outlier):
    prepared, _, _ = tiny
    x = images_with_an_outlier
    robust = robust_minmax_ranges(prepared, x, image_percentile=99.0)
    plain = robust_minmax_ranges(prepared, x, image_percentile=100.0)
    without = robust_minmax_ranges(prepared, np.delete(x, 7, axis=0), image_percentile=100.0)
    assert set(robust) == set(plain) and {"input", "logits", "se_g"} <= set(robust)
    lo, hi = plain["input"]
    assert (lo, hi) == (float(x.min()), float(x.max()))  # 100: plain minmax, the outlier's range
    rlo, rhi = robust["input"]
    assert without["input"][0] * 1.5 < rlo < 0 < rhi < without["input"][1] * 1.5 and hi > 10 * rhi
    # per image, not per value: a batch of one image gives that image's range
    one = robust_minmax_ranges(prepared, x[7:8], image_percentile=99.0)
    assert one["input"] == (float(x[7].min()), float(x[7].max()))


def test_the_default_method_writes_its_ranges_where_onnxruntime_reads_them(tiny, images_with_an_outlier, tmp_path):
    prepared, _, _ = tiny
    assert QuantizeSpec().method == "robust_minmax" and QuantizeSpec().image_percentile == 99.0
    cache = tmp_path / "cache.json"
    out = quantize_qdq(prepared, tmp_path / "q.onnx", QuantizeSpec(), cache, images_with_an_outlier)
    assert quantized_nodes(out)
    saved = json.loads(cache.read_text())
    assert "MinMax" in json.dumps(saved.get("calibration_method"))
    expected = robust_minmax_ranges(prepared, images_with_an_outlier)["input"]
    got = saved["data"]["input"]
    assert np.isclose(np.ravel(got["lowest"]["data"])[0], expected[0]) and np.isclose(np.ravel(got["highest"]["data"])[0], expected[1])
    again = quantize_qdq(prepared, tmp_path / "again.onnx", QuantizeSpec(keep_fp32=["se"]), cache, None)  # from the cache
    assert set(quantized_nodes(again)) < set(quantized_nodes(out))


def test_image_percentile_is_validated():
    with pytest.raises(ValueError, match="image_percentile"):
        QuantizeSpec(image_percentile=30)
