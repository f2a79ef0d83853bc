"""The numpy eval transform must give exactly the tensor transform's values: the service and the demo
use the first, `edgecv bench` and evaluation the second, and they must never disagree on an image."""
import numpy as np
import pytest
from PIL import Image

from edgecv.data.transforms import build_eval_array_transform, build_transform

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@pytest.mark.parametrize("image_size, source_size, mode", [
    (32, (32, 32), "RGB"),  # no resize
    (32, (57, 41), "RGB"),  # small model: resized whole
    (16, (32, 32), "L"),  # greyscale converted to RGB
    (96, (200, 150), "RGBA"),  # large model: resize then centre crop
])
def test_array_transform_equals_tensor_transform_bit_for_bit(image_size, source_size, mode):
    rng = np.random.default_rng(image_size)
    channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
    pixels = (rng.random((source_size[1], source_size[0], channels)) * 255).astype(np.uint8)
    image = Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode)
    expected = build_transform(False, image_size, MEAN, STD, None, 0.875)(image).numpy()
    got = build_eval_array_transform(image_size, MEAN, STD, 0.875)(image)
    assert got.dtype == np.float32 and got.shape == (3, image_size, image_size)
    assert np.array_equal(got, expected)
