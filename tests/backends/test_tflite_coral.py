"""A TFLite file edgecv did not make: Coral's uint8 MobileNetV2 through `edgecv bench` with a class map."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("ai_edge_litert", reason="tflite extra not installed: pip install 'edgecv[tflite]'")

from tests.conftest import need_shared  # noqa: E402

README_MAP = {  # ../shared/data/README.md: Imagenette wnid -> label index of the 1001-label file
    "n01440764": 1, "n02102040": 218, "n02979186": 483, "n03000684": 492, "n03028079": 498,
    "n03394916": 567, "n03417042": 570, "n03425413": 572, "n03445777": 575, "n03888257": 702,
}


def test_class_map_from_labels_file(tmp_path):
    from edgecv.bench.classmap import main

    out = tmp_path / "map.json"
    assert main(["--data", str(need_shared("imagenette", "val")), "--labels",
                 str(need_shared("tflite", "imagenet_labels.txt")), "-o", str(out)]) == 0
    assert json.loads(out.read_text()) == README_MAP


def test_class_map_names_a_missing_class():
    from edgecv.bench.classmap import build_class_map

    with pytest.raises(ValueError, match="n99999999"):
        build_class_map(["n01440764", "n99999999"], ["background", "tench, Tinca tinca"])


def test_inspect_reads_what_the_file_expects():
    from edgecv.backends import BACKENDS

    meta = BACKENDS.get("tflite").inspect(need_shared("tflite", "mobilenet_v2_1.0_224_quant.tflite"))
    assert (meta.layout, meta.input_dtype, meta.precision) == ("NHWC", "uint8", "int8")
    assert meta.input_shape == ["batch", 3, 224, 224] and meta.extra["outputs"] == [[1, 1001]]


def test_coral_mobilenet_v2_restricted_top1(tmp_path):
    """>= 95 % top-1 over the 10 Imagenette classes (the README measured 98.1 % on 3,925 images)."""
    from edgecv.cli import main

    model = need_shared("tflite", "mobilenet_v2_1.0_224_quant.tflite")
    cmap = tmp_path / "map.txt"
    cmap.write_text("".join(f"{k} {v}\n" for k, v in README_MAP.items()))
    out = tmp_path / "bench.json"
    rc = main(["bench", str(model), "--data", str(need_shared("imagenette", "val")), "--class-map", str(cmap),
               "--threads", "2", "--crop-pct", "1.0", "--warmup", "1", "--min-runs", "3", "--min-time", "0",
               "--json", str(out)])
    assert rc == 0
    row = json.loads(out.read_text())["rows"][0]
    assert row["backend"] == "tflite" and row["status"] == "ok" and row["images"] == 400
    assert row["top1_restricted"] >= 95.0, row


def test_uint8_pixels_do_not_depend_on_the_normalisation():
    """A foreign uint8 model gets raw 0-255 pixels back whatever mean/std the harness used (--mean/--std)."""
    import numpy as np

    from edgecv.backends import BACKENDS, Artifact
    from edgecv.data.folder import image_folder
    from edgecv.data.transforms import build_transform

    path = need_shared("tflite", "mobilenet_v2_1.0_224_quant.tflite")
    b = BACKENDS.get("tflite")
    outs = []
    for mean, std in [((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)), ((0.0,) * 3, (1 / 255,) * 3)]:
        ds = image_folder(need_shared("imagenette", "val"), build_transform(False, 224, mean, std, crop_pct=1.0))
        x = np.stack([np.asarray(ds[i][0]) for i in range(0, 400, 50)])
        meta = b.inspect(path)
        meta.mean, meta.std = list(mean), list(std)
        run = b.load(Artifact(path, "tflite", meta), threads=2)
        assert run.info["input_encoding"] == "pixels"
        outs.append(run(x))
    np.testing.assert_allclose(outs[0], outs[1], atol=1 / 256 + 1e-6)  # at most one uint8 step of the softmax
