"""Runner inputs are NCHW float32; files that take NHWC or raw integer pixels get them converted."""
import numpy as np
import pytest

from edgecv.backends.layout import guess_layout, input_adapter


def test_no_adapter_for_nchw_float():
    assert input_adapter("NCHW", "float32") is None


def test_uint8_nhwc_recovers_the_raw_pixels():
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    raw = np.random.default_rng(0).integers(0, 256, (2, 3, 4, 5)).astype(np.uint8)
    x = ((raw / 255.0) - np.reshape(mean, (1, 3, 1, 1))) / np.reshape(std, (1, 3, 1, 1))
    out = input_adapter("NHWC", "uint8", mean, std)(x.astype(np.float32))
    assert out.dtype == np.uint8 and out.shape == (2, 4, 5, 3)
    assert np.array_equal(out, raw.transpose(0, 2, 3, 1))


def test_int8_pixels_are_shifted():
    out = input_adapter("NCHW", "int8", [0, 0, 0], [1, 1, 1])(np.array([[[[0.0, 1.0]]] * 3], np.float32).reshape(1, 3, 1, 2))
    assert out.dtype == np.int8 and out.min() == -128 and out.max() == 127


def test_layout_guess_and_rank_check():
    assert guess_layout(["batch", 3, 224, 224]) == "NCHW"
    assert guess_layout([1, 224, 224, 3]) == "NHWC"
    with pytest.raises(ValueError, match="4-D"):
        guess_layout([1, 16])
    with pytest.raises(ValueError, match="layout"):
        input_adapter("CHWN")
