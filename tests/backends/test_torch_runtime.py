"""The torch backend's run-time settings on the CPU: bf16 and fp16 (refused where PyTorch cannot run it),
channels-last, torch.compile, option checks, and the settings travelling with the file. The same settings
on a GPU are tested in test_torch_cuda.py (skipped where there is none)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from edgecv.backends import BACKENDS, Artifact
from edgecv.backends.torch.runner import CompileError, make_runner
from edgecv.backends.torch.runtime import RUNTIME_KEY, TorchRuntime, parse_runtime, runtime_of
from edgecv.eval.logits import parity
from tests.conftest import need_shared

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
SAMPLE = torch.zeros(1, 3, 32, 32)
TORCH = BACKENDS.get("torch")


@pytest.fixture(scope="module")
def model():
    from edgecv.models import create_model

    return create_model("cifar_resnet20", num_classes=10, checkpoint=need_shared("teachers", "resnet20-12fca82f.th")).eval()


@pytest.fixture(scope="module")
def images():
    from edgecv.bench import EvalSet

    return EvalSet.from_folder(need_shared("cifar10", "val"), 32, MEAN, STD, crop_pct=1.0, batch_size=250).first(500)


@pytest.fixture(scope="module")
def reference(model, images):
    with torch.inference_mode():
        return model(torch.from_numpy(images)).numpy()


def test_precisions_and_options_are_declared():
    assert list(TORCH.precisions) == ["fp32", "fp16", "bf16"]
    assert set(TORCH.options) == {"device", "channels_last", "cuda_graphs", "compile", "compile_mode", "tf32"}
    assert all(v == "" for v in TORCH.buildable().values())  # every precision has a builder


def test_bf16_on_cpu_agrees_with_fp32(model, images, reference, tmp_path):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    art = TORCH.build(model, SAMPLE, "bf16", None, tmp_path)
    assert all(torch.equal(before[k], v) and v.dtype == before[k].dtype for k, v in model.state_dict().items())  # untouched
    assert art.precision == "bf16" and art.path.name == "cifar_resnet20-bf16.pt"
    side = json.loads(art.sidecar().read_text())
    assert side["precision"] == "bf16" and side["extra"][RUNTIME_KEY]["dtype"] == "bfloat16"
    assert side["extra"][RUNTIME_KEY]["device"] == "cpu"

    runner = TORCH.load(Artifact.from_path(art.path), threads=2)
    assert runner.info["dtype"] == "bfloat16" and runner.info["device"] == "cpu" and "timing" not in runner.info
    out = runner(images)
    assert out.dtype == np.float32 and out.shape == (500, 10)
    p = parity(out, reference)
    assert p["agreement"] >= 98.0, p  # bf16 keeps 8 mantissa bits: a few borderline images flip
    assert p["max_abs_diff"] <= 0.05 * float(np.abs(reference).max()), p
    assert not np.array_equal(out, reference)  # it really ran in bf16


def test_the_file_is_the_same_model_and_says_how_it_runs(model, tmp_path):
    """The weights stay FP32 (one model file); the runtime is recorded in the file too, so a copy without
    its sidecar still runs as built."""
    from edgecv.models import load_model_file as load_model

    art = TORCH.build(model, SAMPLE, "bf16", None, tmp_path, {"channels_last": True})
    loaded, ckpt = load_model(art.path)
    assert all(v.dtype == torch.float32 for v in loaded.state_dict().values() if v.is_floating_point())
    assert ckpt[RUNTIME_KEY]["precision"] == "bf16" and ckpt[RUNTIME_KEY]["channels_last"] is True
    art.sidecar().unlink()
    seen = TORCH.inspect(art.path)
    assert seen.precision == "bf16" and runtime_of(seen) == TorchRuntime(precision="bf16", channels_last=True)


def test_fp32_reference_runs_exactly_as_before(model, images, reference, tmp_path):
    art = TORCH.build(model, SAMPLE, "fp32", None, tmp_path)
    assert runtime_of(art.metadata).reference
    runner = TORCH.load(art, threads=1)
    assert runner.info == {"device": "cpu", "threads": 1}  # module_runner, as before
    np.testing.assert_array_equal(runner(images[:8]), reference[:8])


def test_channels_last_on_cpu(model, images, reference):
    """Weights and the input the first convolution sees are NHWC; the logits are those of NCHW."""
    import copy

    m = copy.deepcopy(model)
    seen = []
    m.conv1.register_forward_pre_hook(lambda mod, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last)))
    runner = make_runner(m, parse_runtime("fp32", {"channels_last": True}), threads=2, chw=(3, 32, 32))
    out = runner(images[:64])
    assert seen == [True] and runner.info["channels_last"] is True
    assert m.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    np.testing.assert_allclose(out, reference[:64], rtol=1e-4, atol=1e-4)


def test_fp16_on_cpu_runs_where_pytorch_has_the_kernels(model, images, reference, tmp_path):
    art = TORCH.build(model, SAMPLE, "fp16", None, tmp_path)
    out = TORCH.load(art, threads=2)(images[:32])
    p = parity(out, reference[:32])
    assert p["agreement"] == 100.0 and p["max_abs_diff"] < 0.1, p


class PrototypeHead(torch.nn.Module):
    """A classifier scoring features by distance to class prototypes (torch.cdist): PyTorch has no
    half-precision CPU kernel for cdist."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.prototypes = torch.nn.Parameter(torch.randn(10, 10))

    def forward(self, x):
        return -torch.cdist(self.backbone(x), self.prototypes)


def test_fp16_on_cpu_is_refused_clearly_where_it_cannot_run(model, tmp_path):
    head = PrototypeHead(model).eval()
    with torch.no_grad():
        head(SAMPLE)  # runs in fp32
    with pytest.raises(ValueError) as err:
        TORCH.build(head, SAMPLE, "fp16", None, tmp_path)
    msg = str(err.value)
    assert "fp16 cannot run on the CPU" in msg and "cdist" in msg and "use bf16 on the CPU, or fp16 with device cuda" in msg
    assert "\n" not in msg and not list(tmp_path.iterdir())  # nothing written
    assert next(head.parameters()).dtype == torch.float32  # the probe ran on a copy
    # the same model built for a GPU is not probed here (it runs where there is one)
    cuda = TORCH.build(model, SAMPLE, "fp16", None, tmp_path, {"device": "cuda"})
    assert runtime_of(cuda.metadata) == TorchRuntime(device="cuda", precision="fp16")


@pytest.mark.parametrize("options, message", [
    ({"device": "tpu"}, "device must be cpu, cuda or cuda:N, got 'tpu'"),
    ({"channels_last": "yes"}, "channels_last must be true or false, got 'yes'"),
    ({"compile_mode": "fast"}, "compile_mode must be one of default, reduce-overhead, max-autotune"),
    ({"cuda_graphs": True}, "cuda_graphs needs device cuda"),
    ({"device": "cuda", "cuda_graphs": True, "compile": True}, "cuda_graphs and compile do not combine"),
    ({"tf32": True}, "tf32 applies to fp32 on device cuda only"),
])
def test_option_values_are_checked(model, tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        TORCH.build(model, SAMPLE, "fp32", None, tmp_path, options)
    assert not list(tmp_path.iterdir())


def test_option_names_and_precisions_are_checked_by_the_base(model, tmp_path):
    with pytest.raises(ValueError, match=r"does not take option\(s\) devise for fp32 \(its options: device, channels_last"):
        TORCH.build(model, SAMPLE, "fp32", None, tmp_path, {"devise": "cuda"})
    with pytest.raises(ValueError, match="backend torch runs fp32, fp16, bf16, not 'int8'"):
        TORCH.build(model, SAMPLE, "int8", None, tmp_path)


def test_runtime_settings_round_trip():
    rt = parse_runtime("fp16", {"device": "CUDA:1", "channels_last": True, "compile_mode": "max-autotune"})
    assert rt == TorchRuntime(device="cuda:1", precision="fp16", channels_last=True, compile=True, compile_mode="max-autotune")
    assert rt.describe() == "cuda:1 fp16 channels-last compile:max-autotune"
    assert parse_runtime(rt.precision, rt.record()) == rt
    off = parse_runtime("fp32", {"compile": False, "compile_mode": "max-autotune"})
    assert not off.compile and off.compile_mode == "default" and off.reference  # compile false wins over a mode


def test_configure_runs_the_same_file_another_way(model, tmp_path):
    art = TORCH.build(model, SAMPLE, "fp32", None, tmp_path)
    gpu = TORCH.configure(art, "fp16", {"device": "cuda", "cuda_graphs": True})
    assert gpu.path == art.path and gpu.precision == "fp16"
    assert runtime_of(gpu.metadata) == TorchRuntime(device="cuda", precision="fp16", cuda_graphs=True)
    assert runtime_of(art.metadata).reference and art.precision == "fp32"  # the original is unchanged
    back = TORCH.configure(gpu, "fp32", {"device": "cpu", "cuda_graphs": False})
    assert runtime_of(back.metadata).reference
    assert runtime_of(TORCH.configure(art, None, {"compile_mode": "reduce-overhead"}).metadata).compile
    with pytest.raises(ValueError, match="cuda_graphs needs device cuda"):
        TORCH.configure(gpu, None, {"device": "cpu"})  # the recorded graphs do not fit a CPU run
    with pytest.raises(ValueError, match=r"does not take option\(s\) layout"):
        TORCH.configure(art, None, {"layout": "NHWC"})


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without a CUDA GPU")
def test_cuda_artifact_without_a_gpu_says_why(model, tmp_path):
    art = TORCH.build(model, SAMPLE, "fp16", None, tmp_path, {"device": "cuda"})  # built anywhere (e.g. for a Jetson)
    with pytest.raises(RuntimeError, match="device cuda asked for, but there is no usable CUDA GPU here: "):
        TORCH.load(art)


@pytest.mark.slow
def test_torch_compile_on_cpu(images):
    """torch.compile on the CPU (Inductor's C++ path; about 30 s on 2 cores even for ResNet-8, hence slow)."""
    from edgecv.models import create_model

    torch.manual_seed(0)
    m = create_model("cifar_resnet8", num_classes=10).eval()
    with torch.inference_mode():
        ref = m(torch.from_numpy(images[:4])).numpy()
    runner = make_runner(m, parse_runtime("fp32", {"compile": True}), threads=2, chw=(3, 32, 32))
    assert runner.info["compile"] == "default"
    np.testing.assert_allclose(runner(images[:4]), ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(runner(images[:4]), ref, rtol=1e-4, atol=1e-4)  # compiled once per shape


@pytest.mark.slow
def test_torch_compile_failure_is_one_line(images, monkeypatch):
    """A real compile failure (Inductor given a C++ compiler that does not exist) is one line naming it."""
    import torch._inductor.config as inductor_config

    from edgecv.models import create_model

    torch._dynamo.reset()
    monkeypatch.setattr(inductor_config.cpp, "cxx", ("/nonexistent/edgecv-no-cxx",))
    m = create_model("cifar_resnet8", num_classes=10).eval()
    runner = make_runner(m, parse_runtime("fp32", {"compile": True}), threads=2, chw=(3, 32, 32))
    try:
        with pytest.raises(CompileError) as err:
            runner(images[:2])
    finally:
        torch._dynamo.reset()
    msg = str(err.value)
    assert msg.startswith("torch.compile (mode default) failed for input [2, 3, 32, 32]: ") and "\n" not in msg
    assert msg.endswith("run without compile")
