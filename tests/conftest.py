"""Shared fixtures: the offline data in ../shared/data, tiny data folders, an isolated runs dir."""
from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CIFAR = SHARED / "cifar10"
TEACHERS = SHARED / "teachers"


def need_shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"offline data not found: {path} (see ../shared/data/README.md)")
    return path


@pytest.fixture(autouse=True)
def _isolated_runs(tmp_path_factory, monkeypatch):
    """Runs never land in the user's ~/.edgecv during tests."""
    monkeypatch.setenv("EDGECV_RUNS", str(tmp_path_factory.mktemp("runs")))


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """Runners set torch's process-wide thread count to what a test asks (e.g. 1); later tests
    (training ones especially) must not inherit it."""
    import torch

    before = torch.get_num_threads()
    yield
    if torch.get_num_threads() != before:
        torch.set_num_threads(before)


@pytest.fixture
def tiny_folder(tmp_path) -> Path:
    """An ImageFolder with 2 classes x 3 real CIFAR images (train and val)."""
    import shutil

    src = need_shared("cifar10", "val")
    for split in ("train", "val"):
        for cls in ("cat", "dog"):
            d = tmp_path / split / cls
            d.mkdir(parents=True)
            for f in sorted((src / cls).glob("*.png"))[:3]:
                shutil.copy(f, d / f.name)
    return tmp_path
