"""`edgecv bench MODEL.pt --precision/--channels-last/--device/...`: the same PyTorch file run another way,
compared with itself in eager FP32 on the CPU; what cannot run here is one clear line. On a GPU the same
flags are tested in tests/backends/test_torch_cuda.py."""
from __future__ import annotations

import json

import pytest
import torch

from edgecv.cli import main

FAST = ["--warmup", "1", "--min-runs", "3", "--min-time", "0"]


@pytest.fixture(scope="module")
def pt20(teacher20, tmp_path_factory):
    from edgecv.backends import BACKENDS

    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    art = BACKENDS.get("torch").build(teacher20, torch.zeros(1, 3, 32, 32), "fp32", None, tmp_path_factory.mktemp("pt20"),
                                      {"preprocess": {"class_names": classes}})
    return art.path


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr()
    assert "Traceback" not in err.out + err.err
    return (err.out + err.err).replace("\n", " ")


def test_bf16_channels_last_is_judged_against_cpu_fp32(pt20, cifar_small, tmp_path, capsys):
    out = tmp_path / "rows.json"
    assert main(["bench", str(pt20), "--precision", "bf16", "--channels-last", "--data", str(cifar_small), "--crop-pct", "1",
                 "--batch", "1,4", "--json", str(out), *FAST]) == 0, capsys.readouterr()
    rows = json.loads(out.read_text())["rows"]
    for r in rows:
        assert r["precision"] == "bf16" and r["backend"] == "torch" and r["status"] == "ok"
        assert r["parity_on"] == "val" and r["agreement"] >= 95.0 and r["max_abs_diff"] > 0  # compared, and not the reference itself
        assert r["latency_ms_compute_p50"] is None and r["h2d_ms_p50"] is None  # a CPU runner: wall time only
    fp32 = tmp_path / "fp32.json"
    assert main(["bench", str(pt20), "--data", str(cifar_small), "--crop-pct", "1", "--json", str(fp32), *FAST]) == 0
    ref = json.loads(fp32.read_text())["rows"][0]
    assert ref["precision"] == "fp32" and ref["agreement"] is None  # the file as built is the reference: no parity
    assert json.loads(pt20.with_name(pt20.name + ".edgecv.json").read_text())["precision"] == "fp32"  # nothing written


def test_what_cannot_run_is_one_line(pt20, onnx20, capsys):
    assert "cuda_graphs needs device cuda" in _error(capsys, ["bench", str(pt20), "--cuda-graphs", *FAST])
    assert "compile_mode must be one of default, reduce-overhead" in _error(
        capsys, ["bench", str(pt20), "--compile-mode", "fastest", *FAST])
    assert "device must be cpu, cuda or cuda:N" in _error(capsys, ["bench", str(pt20), "--device", "gpu", *FAST])
    msg = _error(capsys, ["bench", str(onnx20.path), "--precision", "fp16", "--device", "cuda", *FAST])
    assert msg.startswith("error: --precision, --device: these run a PyTorch model file (.pt) another way;")
    assert "is a onnxruntime artifact" in msg
    if not torch.cuda.is_available():
        msg = _error(capsys, ["bench", str(pt20), "--device", "cuda", "--precision", "fp16", *FAST])
        assert "device cuda asked for, but there is no usable CUDA GPU here" in msg


def test_runtime_flags_pass_through_as_words():
    """What `--remote` forwards to the target's `edgecv bench` (it applies them there)."""
    import argparse

    from edgecv.cli.bench import _runtime_flags

    args = argparse.Namespace(precision="fp16", device="cuda", channels_last=True, cuda_graphs=None, compile=None,
                              compile_mode="max-autotune", tf32=None)
    assert _runtime_flags(args) == ["--precision", "fp16", "--device", "cuda", "--channels-last",
                                    "--compile-mode", "max-autotune"]
