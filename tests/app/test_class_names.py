"""Class names reach every answer: `--class-names FILE` on export, serve and demo (and a Predictor's
`class_names=`); a file with the wrong number of names is one line, before anything runs."""
from __future__ import annotations

import json

import pytest
import torch

from edgecv.backends import Artifact
from edgecv.cli import main

NAMES = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture
def names_file(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("# CIFAR-10, in output order\n" + "\n".join(NAMES) + "\n")
    return path


@pytest.fixture(scope="module")
def bare_onnx(tmp_path_factory):
    """An ONNX file exported with --model and no data: it knows no class names."""
    out = tmp_path_factory.mktemp("bare") / "r8.onnx"
    assert main(["export", "--model", "cifar_resnet8", "--num-classes", "10", "-o", str(out)]) == 0
    assert Artifact.from_path(out).metadata.class_names is None
    return out


def test_class_names_files_in_every_form(tmp_path):
    from edgecv.bench.classmap import read_class_names

    (tmp_path / "list.json").write_text(json.dumps(NAMES))
    (tmp_path / "map.json").write_text(json.dumps({str(i): n for i, n in enumerate(NAMES)}))
    (tmp_path / "lines.txt").write_text("\n".join(NAMES) + "\n\n")
    for f in ("list.json", "map.json", "lines.txt"):
        assert read_class_names(tmp_path / f) == NAMES
    (tmp_path / "gap.json").write_text(json.dumps({"0": "a", "2": "c"}))
    with pytest.raises(ValueError, match=r"gap.json: indices must be 0\.\.1"):
        read_class_names(tmp_path / "gap.json")
    (tmp_path / "dup.txt").write_text("a\nb\na\n")
    with pytest.raises(ValueError, match="'a' appears twice"):
        read_class_names(tmp_path / "dup.txt")
    with pytest.raises(FileNotFoundError, match="class names file not found"):
        read_class_names(tmp_path / "nope.txt")


def test_export_with_class_names(names_file, tmp_path, capsys):
    out = tmp_path / "named.onnx"
    assert main(["export", "--model", "cifar_resnet8", "--num-classes", "10", "--class-names", str(names_file),
                 "-o", str(out)]) == 0
    assert Artifact.from_path(out).metadata.class_names == NAMES
    short = tmp_path / "nine.txt"
    short.write_text("\n".join(NAMES[:9]))
    capsys.readouterr()
    assert main(["export", "--model", "cifar_resnet8", "--num-classes", "10", "--class-names", str(short),
                 "-o", str(tmp_path / "x.onnx")]) == 2
    assert "has 9 names but the model has 10 outputs" in capsys.readouterr().out
    assert not (tmp_path / "x.onnx").exists()


def test_a_predictor_takes_class_names_and_checks_their_count(bare_onnx, names_file):
    import numpy as np

    from edgecv.app import Predictor

    assert Predictor(bare_onnx).predict(np.zeros((32, 32, 3), np.uint8)).labels[0].isdigit()  # "3", not "cat"
    named = Predictor(bare_onnx, class_names=names_file)
    assert named.predict(np.zeros((32, 32, 3), np.uint8)).labels[0] in NAMES
    with pytest.raises(ValueError, match="has 3 names but .* has 10 outputs"):
        Predictor(bare_onnx, class_names=["a", "b", "c"])


def test_serve_answers_with_the_class_names_file(bare_onnx, names_file):
    # no capsys here: uvicorn's logging set-up would close a library's handler bound to pytest's own stream
    pytest.importorskip("fastapi")
    import httpx

    from edgecv.app import Predictor
    from tests.serve.conftest import live_server, png_bytes

    with live_server(Predictor(bare_onnx, threads=1, class_names=names_file)) as live:
        r = httpx.post(live.url + "/v1/classify", content=png_bytes(), headers={"Content-Type": "image/png"})
    assert r.status_code == 200 and {p["label"] for p in r.json()["predictions"]} <= set(NAMES)


def test_serve_refuses_a_class_names_file_of_the_wrong_length(bare_onnx, tmp_path, capsys):
    pytest.importorskip("fastapi")
    short = tmp_path / "two.txt"
    short.write_text("a\nb\n")
    assert main(["serve", str(bare_onnx), "--port", "0", "--class-names", str(short)]) == 2
    assert "has 2 names but" in capsys.readouterr().out


def test_demo_labels_frames_with_the_class_names_file(bare_onnx, names_file, tmp_path, capfd):
    pytest.importorskip("cv2")
    import cv2
    import numpy as np

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(2):
        cv2.imwrite(str(frames / f"{i}.png"), np.full((32, 32, 3), 60 * i, np.uint8))
    assert main(["demo", str(bare_onnx), "--source", str(frames), "--headless", "--class-names", str(names_file)]) == 0
    capfd.readouterr()
    from edgecv.app import Predictor
    from edgecv.demo import run_demo

    stats = run_demo(Predictor(bare_onnx, class_names=names_file), frames, keep_predictions=True)
    assert all(r.prediction.labels[0] in NAMES for r in stats.records) and len(stats.records) == 2
