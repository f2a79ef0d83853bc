"""The torch backend on an NVIDIA GPU: parity with CPU FP32 on the CIFAR-10 val images, CUDA graphs equal to
eager, torch.compile, CUDA-event timing and the compute/transfer split in the harness's rows. Needs a CUDA
GPU; skipped (never faked) where there is none. The CPU side is tested in test_torch_runtime.py."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from edgecv.backends import BACKENDS
from edgecv.backends.torch.runner import CudaModuleRunner
from edgecv.backends.torch.runtime import parse_runtime
from edgecv.eval.logits import parity
from edgecv.utils.timing import CUDA_EVENTS, CallTiming, TimingConfig
from tests.conftest import need_shared

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU with a CUDA build of PyTorch")]

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
SAMPLE = torch.zeros(1, 3, 32, 32)
TORCH = BACKENDS.get("torch")
FAST = TimingConfig(warmup=3, min_runs=10, min_time_s=0)


def _bf16() -> bool:
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:
        return torch.cuda.is_bf16_supported()


@pytest.fixture(scope="module")
def model():
    from edgecv.models import create_model

    return create_model("cifar_resnet56", num_classes=10, checkpoint=need_shared("teachers", "resnet56-4bfd9763.th")).eval()


@pytest.fixture(scope="module")
def val():
    from edgecv.bench import EvalSet

    return EvalSet.from_folder(need_shared("cifar10", "val"), 32, MEAN, STD, crop_pct=1.0, batch_size=256)


@pytest.fixture(scope="module")
def images(val):
    return np.concatenate([x for x, _ in val.batches()])  # all 5,000


@pytest.fixture(scope="module")
def cpu_logits(model, val):
    return val.reference_logits(model)  # eager FP32 on the CPU


def _runner(model, precision="fp32", **options):
    import copy

    return CudaModuleRunner(copy.deepcopy(model), parse_runtime(precision, {"device": "cuda", **options}))


def _run_all(runner, images, batch=256):
    return np.concatenate([runner(images[i:i + batch]) for i in range(0, len(images), batch)])


@pytest.mark.parametrize("precision, options, min_agreement", [
    ("fp32", {}, 99.5), ("fp16", {}, 99.5), ("fp16", {"channels_last": True}, 99.5),
    ("bf16", {}, 99.0),  # 8 mantissa bits: on the CPU ResNet-20 agrees on 99.7 % of these images
])
def test_parity_with_cpu_fp32_on_5000_val_images(model, images, cpu_logits, precision, options, min_agreement):
    if precision == "bf16" and not _bf16():
        pytest.skip("this GPU has no native bfloat16")
    out = _run_all(_runner(model, precision, **options), images)
    p = parity(out, cpu_logits)
    assert len(out) == 5000 and p["agreement"] >= min_agreement, (precision, options, p)


def test_fp32_on_cuda_is_fp32(model, images, cpu_logits):
    """TF32 off: FP32 on the GPU matches the CPU to float rounding, not to TF32's 10 mantissa bits; the
    process-wide switches the runner sets for its calls are restored afterwards."""
    def switches():  # the API the runner uses: PyTorch 2.9+ fp32_precision, else the legacy allow_tf32
        b = torch.backends
        if hasattr(b.cudnn, "conv") and hasattr(b.cudnn.conv, "fp32_precision"):
            return b.cudnn.benchmark, b.cudnn.conv.fp32_precision, b.cuda.matmul.fp32_precision
        return b.cudnn.benchmark, b.cudnn.allow_tf32, b.cuda.matmul.allow_tf32

    before = switches()
    out = _run_all(_runner(model, "fp32"), images[:512])
    scale = float(np.abs(cpu_logits[:512]).max())
    assert parity(out, cpu_logits[:512])["max_abs_diff"] <= 2e-4 * scale
    assert switches() == before


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_cuda_graphs_equal_eager(model, images, precision):
    eager, graphs = _runner(model, precision), _runner(model, precision, cuda_graphs=True)
    for n in (1, 32, 256, 1):  # one graph per batch size, replayed again
        a, b = eager(images[:n]), graphs(images[:n])
        np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-3 if precision == "fp32" else 2e-2)
        assert (a.argmax(1) == b.argmax(1)).mean() >= 0.99
    assert len(graphs._graphs) == 3
    later = graphs(images[100:132])  # new data through the captured input
    np.testing.assert_allclose(later, eager(images[100:132]), rtol=1e-3, atol=1e-3 if precision == "fp32" else 2e-2)


def test_torch_compile_on_cuda_agrees_with_eager(model, images):
    eager, compiled = _runner(model, "fp16"), _runner(model, "fp16", compile=True)
    for n in (1, 32):
        np.testing.assert_allclose(compiled(images[:n]), eager(images[:n]), rtol=2e-2, atol=5e-2)
    assert compiled.info["compile"] == "default"


def test_cuda_event_timing(model, images):
    runner = _runner(model, "fp16", cuda_graphs=True)
    assert runner.info["timing"] == CUDA_EVENTS and runner.info["gpu"]
    runner(images[:32])  # capture
    c = runner.time_call(images[:32])
    assert isinstance(c, CallTiming) and c.compute_s > 0 and c.h2d_s > 0 and c.d2h_s > 0
    assert c.compute_s < 1.0  # seconds, not milliseconds


def test_harness_reports_compute_and_transfers_apart(model, val, tmp_path):
    from edgecv.bench import benchmark_artifact, markdown_table

    art = TORCH.build(model, SAMPLE, "fp16", None, tmp_path, {"device": "cuda", "cuda_graphs": True})
    rows = benchmark_artifact(art, data=val, batches=[1, 32], reference_model=model, timing=FAST)
    for r in rows:
        assert r["status"] == "ok" and r["parity_on"] == "val" and r["agreement"] >= 99.5, r
        assert r["device"].startswith("cuda:") and r["precision"] == "fp16"
        assert r["latency_ms_compute_p50"] > 0 and r["h2d_ms_p50"] > 0 and r["d2h_ms_p50"] > 0
        assert r["latency_ms_p50"] >= r["latency_ms_compute_p50"]  # the wall time holds the compute
    assert "| compute p50 ms | H2D ms | D2H ms |" in markdown_table(rows)


def test_bench_cli_on_cuda(tmp_path, capsys):
    import json

    from edgecv.cli import main

    f = tmp_path / "r56.pt"
    assert main(["export", "--model", "cifar_resnet56", "--checkpoint", str(need_shared("teachers", "resnet56-4bfd9763.th")),
                 "--num-classes", "10", "--to", "torch", "-o", str(f)]) == 0
    import shutil

    src, small = need_shared("cifar10", "val"), tmp_path / "val"
    for cls in sorted(d.name for d in src.iterdir()):  # 20 images per class
        (small / cls).mkdir(parents=True)
        for png in sorted((src / cls).glob("*.png"))[:20]:
            shutil.copy(png, small / cls / png.name)
    out = tmp_path / "rows.json"
    assert main(["bench", str(f), "--device", "cuda", "--precision", "fp16", "--channels-last", "--cuda-graphs",
                 "--data", str(small), "--crop-pct", "1", "--batch", "1,32", "--warmup", "3", "--min-runs", "10",
                 "--min-time", "0", "--json", str(out)]) == 0, capsys.readouterr()
    data = json.loads(out.read_text())
    for r in data["rows"]:  # compared with the same file in CPU FP32 on the same 200 images
        assert r["status"] == "ok" and r["parity_on"] == "val" and r["agreement"] >= 99.0 and r["h2d_ms_p50"] > 0, r
    assert data["environment"]["gpu"]["name"]  # the fingerprint names the GPU
