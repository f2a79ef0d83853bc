"""Fixtures shared by the backend tests."""
from __future__ import annotations

import pytest
import torch

from tests.bench.conftest import teacher20  # noqa: F401  (shared fixture: the pretrained ResNet-20)
from tests.conftest import SHARED


@pytest.fixture(scope="module")
def model():
    """The pretrained CIFAR ResNet-20 where the offline data is there, else the same architecture seeded."""
    from edgecv.models import create_model

    ckpt = SHARED / "teachers" / "resnet20-12fca82f.th"
    torch.manual_seed(0)
    return create_model("cifar_resnet20", num_classes=10, checkpoint=ckpt if ckpt.is_file() else None).eval()


MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def need_backend(name: str):
    """The backend, or a skip naming the extra that installs it."""
    from edgecv.backends import BACKENDS

    b = BACKENDS.get(name)
    ok, why = b.available()
    if not ok:
        pytest.skip(f"backend {name} not available here: {why}")
    return b


@pytest.fixture(scope="session")
def cifar_val():
    """All 5,000 CIFAR-10 val images, decoded once for every backend's INT8 check."""
    from edgecv.bench import EvalSet
    from tests.conftest import need_shared

    return EvalSet.from_folder(need_shared("cifar10", "val"), 32, MEAN, STD, crop_pct=1.0, batch_size=100)


@pytest.fixture(scope="session")
def cifar_calibration():
    """256 CIFAR-10 training images (never val images), as a run calibrates."""
    from edgecv.data import CalibrationSource
    from tests.conftest import need_shared

    return CalibrationSource.from_folder(need_shared("cifar10", "train"), 32, MEAN, STD, size=256)


def check_int8_row(row: dict) -> None:
    """An INT8 row judged on real images: `ok` at or above the INT8 agreement minimum, `inaccurate`
    with the reason below it, and never a broken quantization (which agrees on far fewer images) on
    any CPU's rounding."""
    from edgecv.bench import INT8_MIN_AGREEMENT

    assert row["parity_on"] == "val" and row["images"] == 5000, row
    assert row["agreement"] >= 95.0, row
    if row["agreement"] >= INT8_MIN_AGREEMENT:
        assert row["status"] == "ok", row
    else:
        assert row["status"] == "inaccurate" and "the INT8 minimum" in row["reason"], row
