"""Shared fixtures: the offline data in ../shared/data, tiny data folders, an isolated runs dir."""
from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CIFAR = SHARED / "cifar10"
TEACHERS = SHARED / "teachers"


def cpu_mismatch(has=(), lacks=(), saturates: bool | None = None) -> str | None:
    """Why this CPU does not fit a `cpu` marker (None when it does): `has`/`lacks` are edgecv.targets
    feature names; `saturates` asks for a CPU whose ONNX Runtime u8 x s8 kernels saturate int16 (True: x86
    with AVX2 and no VNNI) or do not (False: VNNI, ARM, SSE-only). Always this CPU's own features, also under
    $EDGECV_HOST_AS (which only changes what edgecv builds for and accepts)."""
    import platform

    from edgecv.targets import Target, cpu_features, normalise_arch

    arch = normalise_arch(platform.machine())
    host = Target("host", arch, cpu_features(arch))
    missing = [f for f in has if f not in host.features]
    present = [f for f in lacks if f in host.features]
    if missing:
        return f"needs a CPU with {', '.join(missing)} (this one: {host.compact()})"
    if present:
        return f"needs a CPU without {', '.join(present)} (this one: {host.compact()})"
    if saturates is not None and host.int8_saturates != saturates:
        kind = "x86 with AVX2 and no VNNI" if saturates else "a CPU whose INT8 kernels do not saturate (VNNI, ARM)"
        return f"needs {kind} (this one: {host.compact()})"
    return None


def pytest_runtest_setup(item):
    for mark in item.iter_markers(name="cpu"):
        why = cpu_mismatch(**mark.kwargs)
        if why:
            pytest.skip(why)


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
