"""Fixtures for the harness tests: the ResNet-20 teacher, its ONNX export, a small labelled folder."""
from __future__ import annotations

import shutil

import pytest
import torch

from tests.conftest import need_shared

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture(scope="session")
def teacher20():
    from edgecv.models import create_model

    return create_model("cifar_resnet20", num_classes=10, checkpoint=need_shared("teachers", "resnet20-12fca82f.th")).eval()


@pytest.fixture(scope="session")
def cifar_small(tmp_path_factory):
    """CIFAR-10 val, 4 images per class, as an ImageFolder in a temp folder."""
    src = need_shared("cifar10", "val")
    root = tmp_path_factory.mktemp("cifar_small")
    for cls in CIFAR_CLASSES:
        (root / cls).mkdir()
        for f in sorted((src / cls).glob("*.png"))[:4]:
            shutil.copy(f, root / cls / f.name)
    return root


@pytest.fixture(scope="session")
def onnx20(teacher20, tmp_path_factory):
    from edgecv.backends.build import build_artifact

    res = build_artifact("onnx", teacher20, torch.zeros(1, 3, 32, 32), tmp_path_factory.mktemp("onnx20"),
                         preprocess={"class_names": CIFAR_CLASSES})
    assert res.status == "ok", res.error
    return res.artifact
