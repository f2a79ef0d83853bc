"""Fixtures shared by the backend tests."""
from __future__ import annotations

import pytest
import torch

from tests.conftest import SHARED


@pytest.fixture(scope="module")
def model():
    """The pretrained CIFAR ResNet-20 where the offline data is there, else the same architecture seeded."""
    from edgecv.models import create_model

    ckpt = SHARED / "teachers" / "resnet20-12fca82f.th"
    torch.manual_seed(0)
    return create_model("cifar_resnet20", num_classes=10, checkpoint=ckpt if ckpt.is_file() else None).eval()
