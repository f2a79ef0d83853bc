"""The application layer: one way to load a model (name, edgecv file, run folder), to open an artifact,
and to turn an image into a prediction (the Predictor), shared by the CLI, the demo and the service."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from edgecv.app import Predictor, load_model, open_artifact
from edgecv.backends.build import build_artifact
from edgecv.models import create_model, save_model

CLASSES = ["circle", "square"]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """A labelled folder of 48x40 RGB images (not the model's size: the predictor resizes them)."""
    root = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    for c, name in enumerate(CLASSES):
        (root / name).mkdir()
        for i in range(6):
            arr = (rng.random((40, 48, 3)) * 255).astype(np.uint8)
            arr[:, : 24 if c else 8] = 255
            Image.fromarray(arr).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def onnx_artifact(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("cifar_resnet8", num_classes=2).eval()
    pre = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "class_names": CLASSES}
    res = build_artifact("onnx", model, torch.zeros(1, 3, 32, 32), tmp_path_factory.mktemp("art"), preprocess=pre)
    assert res.status == "ok", res.error
    return res.artifact, model


def test_load_model_by_name_file_and_run_folder(tmp_path):
    by_name = load_model("cifar_resnet8", num_classes=3)
    assert by_name.path is None and by_name.image_size == 32 and by_name.model.linear.out_features == 3
    path = save_model(by_name.model, tmp_path / "m.pt", {"class_names": ["a", "b", "c"],
                                                          "data_config": {"input_size": [3, 24, 24], "mean": [0.1] * 3, "std": [0.2] * 3}})
    from_file = load_model(path)
    assert from_file.path == path.resolve() and from_file.preprocess == {
        "mean": [0.1] * 3, "std": [0.2] * 3, "image_size": 24, "class_names": ["a", "b", "c"]}
    assert load_model(checkpoint=path).path == path.resolve()  # --checkpoint alone: the file says what it is
    run = tmp_path / "run"
    (run / "stages" / "0_train" / "models").mkdir(parents=True)
    save_model(by_name.model, run / "stages" / "0_train" / "models" / "student.pt")
    (run / "manifest.json").write_text(json.dumps({"records": [{"model_files": {"student": "stages/0_train/models/student.pt"}}]}))
    (run / "recipe.json").write_text(json.dumps({"data": {"image_size": 16}}))
    from_run = load_model(run, role="student")
    assert from_run.image_size == 16 and from_run.path.name == "student.pt"
    with pytest.raises(ValueError, match="no 'teacher' model"):
        load_model(run, role="teacher")
    with pytest.raises(ValueError, match="plain state dict: give the model name"):
        torch.save(by_name.model.state_dict(), tmp_path / "plain.pth")
        load_model(checkpoint=tmp_path / "plain.pth")
    with pytest.raises(ValueError, match="holds a 'cifar_resnet8', not the 'cifar_resnet20'"):
        load_model("cifar_resnet20", checkpoint=path)


def test_open_artifact_validates_and_takes_overrides(onnx_artifact, tmp_path):
    art, _ = onnx_artifact
    opened = open_artifact(art.path)
    assert opened.metadata.class_names == CLASSES and opened.metadata.mean == [0.5] * 3
    assert open_artifact(art.path, mean=[0.4] * 3, size=32).metadata.mean == [0.4] * 3
    with pytest.raises(ValueError, match="is a folder"):
        open_artifact(tmp_path)
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="broken.onnx is not a loadable ONNX model"):
        open_artifact(bad)


def test_predictor_uses_the_artifacts_preprocessing(onnx_artifact, images):
    art, model = onnx_artifact
    p = Predictor(art, threads=1)
    img = Image.open(next((images / "square").iterdir()))
    pred = p.predict(img, k=2)
    assert pred.labels[0] in CLASSES and sorted(pred.labels) == CLASSES
    assert pred.scores[0] >= pred.scores[1] and abs(sum(pred.scores) - 1) < 1e-5
    # the same image as an OpenCV frame (BGR) gives the same answer
    bgr = np.asarray(img.convert("RGB"))[:, :, ::-1]
    assert p.predict(bgr, k=2, bgr=True).scores == pytest.approx(pred.scores, abs=1e-6)
    # and the same logits as the PyTorch source on the preprocessed tensor (resize 48x40 -> 32, mean/std 0.5/0.25)
    x = p.preprocess(img)[None]
    assert x.shape == (1, 3, 32, 32)
    ref = model(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(p.logits(x), ref, atol=1e-4)


def test_bench_and_predictor_agree_on_every_image(onnx_artifact, images, tmp_path, capsys):
    """`edgecv bench --data` scores exactly what Predictor.predict says, image by image."""
    from edgecv.cli import main

    art, _ = onnx_artifact
    p = Predictor(art, threads=1)
    hits = [p.predict(Image.open(f), k=1).labels[0] == f.parent.name for f in sorted(images.glob("*/*.png"))]
    expected = round(100 * sum(hits) / len(hits), 2)
    out = tmp_path / "rows.json"
    assert main(["bench", str(art.path), "--data", str(images), "--threads", "1", "--warmup", "0",
                 "--min-runs", "2", "--min-time", "0", "--json", str(out)]) == 0
    row = json.loads(out.read_text())["rows"][0]
    assert row["top1"] == expected and row["images"] == len(hits)
