"""`bench --batch N` is checked against the model's own activations and against what this process may
really allocate (a container's cgroup cap, ulimit -v), and an allocation failure is one line."""
from __future__ import annotations

import resource
import subprocess
import sys

import pytest
import torch

from edgecv.cli import main


def _onnx(model, tmp_path, size=16):
    from edgecv.backends.build import build_artifact

    res = build_artifact("onnx", model.eval(), torch.zeros(1, 3, size, size), tmp_path)
    assert res.status == "ok", res.error
    return res.artifact


def test_the_activation_peak_is_read_from_the_onnx_graph(tmp_path):
    """conv(3->8) -> relu -> conv(8->8) at 16x16: the most alive at once is two 8x16x16 float maps."""
    from edgecv.bench.memory import onnx_activation_peak, per_image_bytes

    chain = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, padding=1),
                                torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    art = _onnx(chain, tmp_path)
    assert onnx_activation_peak(art.path) == 2 * 8 * 16 * 16 * 4
    per_image, how = per_image_bytes(art)
    assert per_image >= 2 * 8 * 16 * 16 * 4 and "ONNX shape inference" in how


def test_cgroup_caps_are_read_v2_and_v1(tmp_path):
    from edgecv.utils.memory import _cgroup_available

    (tmp_path / "v2" / "app").mkdir(parents=True)
    (tmp_path / "v2" / "app" / "memory.max").write_text(f"{8 * 2**30}\n")
    (tmp_path / "v2" / "app" / "memory.current").write_text(f"{3 * 2**30}\n")
    (tmp_path / "cg2").write_text("0::/app\n")
    free, why = _cgroup_available(str(tmp_path / "cg2"), str(tmp_path / "v2"))
    assert free == 5 * 2**30 and "cgroup memory limit of 8.0 GiB" in why
    (tmp_path / "v2" / "app" / "memory.max").write_text("max\n")
    assert _cgroup_available(str(tmp_path / "cg2"), str(tmp_path / "v2")) is None
    (tmp_path / "v1" / "memory").mkdir(parents=True)
    (tmp_path / "v1" / "memory" / "memory.limit_in_bytes").write_text(f"{4 * 2**30}")
    (tmp_path / "v1" / "memory" / "memory.usage_in_bytes").write_text(f"{2**30}")
    (tmp_path / "cg1").write_text("4:memory:/docker/abc\n0::/\n")
    assert _cgroup_available(str(tmp_path / "cg1"), str(tmp_path / "v1"))[0] == 3 * 2**30


def _limited(limit_gib: float):
    limit = int(limit_gib * 2**30)

    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def test_available_memory_honours_ulimit_v():
    code = ("from edgecv.utils.memory import available_memory; b, why = available_memory(); "
            "print(b, why, sep='|')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         preexec_fn=_limited(4))
    assert out.returncode == 0, out.stderr
    free, why = out.stdout.strip().split("|")
    assert int(free) < 4 * 2**30 and "ulimit -v" in why


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS as a stand-in for a container's cap")
def test_a_batch_over_the_process_limit_is_refused_up_front(tmp_path):
    """Under ulimit -v 8 GiB (a stand-in for a container's 8 GB cap): --batch 100000 of a CIFAR ResNet-8
    fits the machine's free memory by the old rule of thumb, not this process's limit. Refused in one
    line with the figure, before anything runs."""
    from edgecv.models import create_model

    art = _onnx(create_model("cifar_resnet8", num_classes=10), tmp_path, size=32)
    proc = subprocess.run([sys.executable, "-m", "edgecv", "bench", str(art.path), "--batch", "100000", "--warmup", "1",
                           "--min-runs", "1", "--min-time", "0"], capture_output=True, text=True, timeout=300,
                          preexec_fn=_limited(8))
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stdout + proc.stderr
    assert "--batch 100000" in lines[0] and "ONNX shape inference" in lines[0] and "ulimit -v" in lines[0]


def test_an_allocation_failure_while_running_is_one_line(tmp_path, capsys, monkeypatch):
    import edgecv.bench
    from edgecv.models import create_model

    art = _onnx(create_model("cifar_resnet8", num_classes=10), tmp_path, size=32)

    def fail(*a, **k):
        raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running "
                           "Conv node. Status Message: bfc_arena.cc:360 Failed to allocate memory for requested buffer "
                           "of size 3932160000\nmore native detail")
    monkeypatch.setattr(edgecv.bench, "benchmark_artifact", fail)
    assert main(["bench", str(art.path), "--batch", "8"]) == 2
    out = capsys.readouterr()
    lines = [line for line in (out.out + out.err).splitlines() if line.strip()]
    assert len(lines) == 1 and "out of memory running" in lines[0] and "use a smaller --batch" in lines[0]
