"""Fixtures for the demo tests: the CIFAR ResNet-20 as ONNX, TFLite, OpenVINO and ExecuTorch artifacts
(built once), and a short video made with OpenCV from ../shared/data/photos."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.bench.conftest import CIFAR_CLASSES, teacher20  # noqa: F401  (shared fixture)
from tests.conftest import need_shared

PREPROCESS = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "class_names": CIFAR_CLASSES}
VIDEO_SIZE = (64, 48)  # width, height
HOLD = 2  # frames per photo


def _build(backend: str, model, out_dir: Path) -> Path:
    from edgecv.backends.build import build_artifact

    res = build_artifact(backend, model, torch.zeros(1, 3, 32, 32), out_dir, preprocess=PREPROCESS)
    if res.status == "skipped":
        pytest.skip(f"{backend} not available: {res.error}")
    assert res.status == "ok", res.error
    return res.artifact.path


@pytest.fixture(scope="session")
def artifact_for(teacher20, tmp_path_factory):  # noqa: F811
    """backend -> the teacher's artifact for it, built once per session (a skip where it is not installed)."""
    built: dict[str, Path] = {}

    def get(backend: str) -> Path:
        if backend not in built:
            built[backend] = _build(backend, teacher20, tmp_path_factory.mktemp(f"demo_{backend}"))
        return built[backend]

    return get


@pytest.fixture(scope="session")
def onnx_artifact(artifact_for) -> Path:
    return artifact_for("onnx")


@pytest.fixture(scope="session")
def photos() -> Path:
    return need_shared("photos")


def photo_files(folder: Path) -> list[Path]:
    from edgecv.demo.sources import IMAGE_SUFFIXES

    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


@pytest.fixture(scope="session")
def photo_video(photos, tmp_path_factory) -> Path:
    """12 frames of 64x48 (each of the 6 photos held for 2 frames), mp4v at 10 fps."""
    import cv2

    path = tmp_path_factory.mktemp("demo_video") / "photos.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, VIDEO_SIZE)
    assert writer.isOpened()
    for f in photo_files(photos):
        frame = cv2.resize(cv2.imread(str(f)), VIDEO_SIZE, interpolation=cv2.INTER_AREA)
        for _ in range(HOLD):
            writer.write(frame)
    writer.release()
    return path


def read_video(path: Path) -> list[np.ndarray]:
    """Every frame of a video, decoded independently of the demo."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), path
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames
