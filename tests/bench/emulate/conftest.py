"""Fixtures for the emulation tests: a tiny ONNX model, and a stand-in `qemu` that runs the worker with the
host's own Python (the worker's protocol and the host-side conversions, tested without emulation)."""
from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest
import torch

CLASSES = ["a", "b", "c"]


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory):
    """A small conv net exported to ONNX (FP32) with its sidecar: 8x8 RGB in, 3 classes out."""
    from edgecv.backends.build import build_artifact

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                                torch.nn.Flatten(), torch.nn.Linear(8, 3)).eval()
    res = build_artifact("onnx", model, torch.zeros(1, 3, 8, 8), tmp_path_factory.mktemp("tiny_onnx"),
                         preprocess={"class_names": CLASSES, "mean": [0.5] * 3, "std": [0.5] * 3})
    assert res.status == "ok", res.error
    return res.artifact


def fake_env(folder: Path, script: str):
    """An EmulatedEnv whose `qemu` is the shell `script` (it gets QEMU's arguments: -L ROOT -cpu CPU PYTHON ...)."""
    from edgecv.bench.emulate.provision import EmulatedEnv

    env = EmulatedEnv("arm64", folder / "arm64", {})
    env.qemu.parent.mkdir(parents=True, exist_ok=True)
    env.qemu.write_text("#!/bin/sh\n" + script + "\n")
    env.qemu.chmod(env.qemu.stat().st_mode | stat.S_IXUSR)
    env.site.mkdir(parents=True, exist_ok=True)
    return env


@pytest.fixture
def host_python_env(tmp_path, monkeypatch):
    """`qemu` drops its 5 leading arguments and runs the rest (python -I worker.py ...) with this Python. This
    CPU is not the class's, so the check of the emulated CPU's features is off (test_runner tests it alone)."""
    from edgecv.bench.emulate.runner import EmulatedRunner

    monkeypatch.setattr(EmulatedRunner, "_check_cpu", lambda self, cpu: None)
    return fake_env(tmp_path, f'shift 5\nexec "{sys.executable}" "$@"')
