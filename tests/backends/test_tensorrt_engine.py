"""Real TensorRT engines: built, loaded and checked against PyTorch. Needs the tensorrt bindings and an
NVIDIA GPU; skipped (never faked) where either is missing."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from edgecv.backends.tensorrt.runner import gpu_identity, has_nvidia_gpu

pytestmark = [pytest.mark.tensorrt, pytest.mark.gpu]
trt = pytest.importorskip("tensorrt", reason="TensorRT is not installed here (pip install 'edgecv[tensorrt]')")
if not has_nvidia_gpu():
    pytest.skip("TensorRT builds and runs engines on an NVIDIA GPU; there is none here", allow_module_level=True)

import edgecv.app  # noqa: E402,F401  (attaches ONNX Runtime's int8/fp16 builders)
from edgecv.backends import BACKENDS, Artifact  # noqa: E402
from edgecv.backends.tensorrt.metadata import EngineMismatch, parse_version, release  # noqa: E402
from edgecv.backends.tensorrt.trtexec import find_trtexec  # noqa: E402
from edgecv.eval.logits import parity, run_all  # noqa: E402
from tests.conftest import SHARED  # noqa: E402

MAJOR = parse_version(trt.__version__)[0]
SAMPLE = torch.zeros(1, 3, 32, 32)


@pytest.fixture(scope="module")
def images():
    """Real CIFAR-10 images where the offline data is there (integer engines are judged on those), else noise."""
    val = SHARED / "cifar10" / "val"
    if val.is_dir():
        from edgecv.bench import EvalSet

        return EvalSet.from_folder(val, 32, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), crop_pct=1.0,
                                   batch_size=64).first(128), True
    return np.random.default_rng(0).standard_normal((128, 3, 32, 32)).astype(np.float32), False


def _build(precision, out, calibration=None, model=None, **options):
    return BACKENDS.get("tensorrt").build(model, SAMPLE, precision, calibration, out, {"builder": "python", **options})


def _agree(art, model, x):
    runner = BACKENDS.get("tensorrt").load(art)
    fixed = art.metadata.input_shape[0] if isinstance(art.metadata.input_shape[0], int) else None
    with torch.no_grad():
        return parity(run_all(runner, [x], fixed), model(torch.from_numpy(x)).numpy()), runner


def test_fp32_engine_matches_pytorch(model, tmp_path):
    art = _build("fp32", tmp_path, model=model)
    x = np.random.default_rng(0).standard_normal((40, 3, 32, 32)).astype(np.float32)  # above max 32: chunked
    p, runner = _agree(art, model, x)
    with torch.no_grad():
        scale = max(1.0, float(model(torch.from_numpy(x)).abs().max()))
    assert p["max_abs_diff"] <= 1e-3 * scale and p["agreement"] >= 99.0, p
    assert runner.info["provider"] == "TensorRT" and runner.info["buffers"] in ("torch", "cuda-python", "pycuda")
    rec = Artifact.from_path(art.path).metadata.extra["tensorrt"]
    assert rec["version"] == release(trt.__version__) and rec["builder"] == "python"
    assert rec["gpu"] == gpu_identity()["name"] and rec["compute_capability"] == gpu_identity()["compute_capability"]
    seen = BACKENDS.get("tensorrt").inspect(art.path)
    assert seen.input_shape == ["batch", 3, 32, 32] and seen.precision == "fp32"
    assert seen.extra["profile"] == [[1, 3, 32, 32], [1, 3, 32, 32], [32, 3, 32, 32]]
    assert art.metadata.extra["trtexec"].startswith("trtexec --onnx=cifar_resnet20-fp32.onnx ")


def test_fp16_engine(model, images, tmp_path):
    art = _build("fp16", tmp_path, model=model)
    p, _ = _agree(art, model, images[0])
    assert p["agreement"] >= 97.0, p
    assert art.metadata.extra["tensorrt"]["onnx_kind"] == ("fp16" if MAJOR >= 11 else "fp32")


def test_static_profile_pads_small_batches(model, tmp_path):
    art = _build("fp32", tmp_path, model=model, batch=4)
    assert art.metadata.input_shape == [4, 3, 32, 32]
    runner = BACKENDS.get("tensorrt").load(art)
    x = np.random.default_rng(1).standard_normal((3, 3, 32, 32)).astype(np.float32)
    out = runner(x)  # 3 images into a batch-4 engine: padded, the padding dropped
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    assert out.shape == (3, 10) and np.abs(out - ref).max() <= 1e-3 * max(1.0, float(np.abs(ref).max()))


@pytest.mark.skipif(MAJOR >= 11, reason="TensorRT 11 has no implicit INT8 calibration")
def test_implicit_int8_calibrates_then_reuses_its_cache(model, images, tmp_path):
    x, real = images
    cache = tmp_path / "resnet20.calib"
    art = _build("int8", tmp_path / "a", [x[:64]], model=model, calibration_cache=str(cache))
    header = cache.read_bytes().split(b"\n", 1)[0].decode()
    assert header.startswith("TRT-") and header.endswith("-EntropyCalibration2")
    assert art.metadata.extra["tensorrt"]["calibration_cache_reused"] is False
    again = _build("int8", tmp_path / "b", model=model, calibration_cache=str(cache))  # no images: the cache
    assert again.metadata.extra["tensorrt"]["calibration_cache_reused"] is True
    for a in (art, again):
        p, _ = _agree(a, model, x[64:])
        if real:  # agreement on noise means nothing for integer engines
            assert p["agreement"] >= 85.0, p


def test_qdq_int8_engine_follows_the_quantized_onnx(model, images, tmp_path):
    from edgecv.backends.onnxruntime.runner import open_session
    from edgecv.quantize import QuantizeSpec, quantize_onnx

    x, real = images
    fp32 = BACKENDS.get("onnxruntime").build(model, SAMPLE, "fp32", None, tmp_path).path
    qdq = quantize_onnx(fp32, tmp_path / "r20-int8.onnx", "int8", [x[:64]],
                        spec=QuantizeSpec(activation_type="int8", calib_size=64)).artifact.path
    art = _build("int8", tmp_path / "engine", model=model, onnx=str(qdq))
    assert art.metadata.extra["tensorrt"]["int8_mode"] == "qdq"
    runner = BACKENDS.get("tensorrt").load(art)
    ours = run_all(runner, [x[64:]])
    ort = open_session(qdq, 1).run(None, {"input": x[64:]})[0]
    assert parity(ours, ort)["agreement"] >= 95.0


def test_timing_cache_is_written_and_reused(model, tmp_path):
    cache = tmp_path / "timing.cache"
    _build("fp32", tmp_path / "a", model=model, timing_cache=str(cache))
    first = cache.read_bytes()
    assert first
    art = _build("fp32", tmp_path / "b", model=model, timing_cache=str(cache))
    assert cache.read_bytes() and f"--timingCacheFile={cache}" in art.metadata.extra["trtexec"]


def test_engine_from_another_release_or_gpu_is_refused(model, tmp_path):
    art = _build("fp32", tmp_path / "a", model=model)
    moved = tmp_path / "b" / art.path.name
    moved.parent.mkdir()
    shutil.copy(art.path, moved)
    side = json.loads(art.sidecar().read_text())
    side["extra"]["tensorrt"].update(version="9.9.9", gpu="Some Other GPU")
    Artifact(moved, "tensorrt", art.metadata).sidecar().write_text(json.dumps(side))
    with pytest.raises(EngineMismatch, match="TensorRT: built 9.9.9, here .*GPU: built 'Some Other GPU'"):
        BACKENDS.get("tensorrt").load(Artifact.from_path(moved))


@pytest.mark.skipif(find_trtexec() is None, reason="no trtexec here")
def test_build_through_the_real_trtexec(model, tmp_path):
    art = BACKENDS.get("tensorrt").build(model, SAMPLE, "fp32", None, tmp_path, {"builder": "trtexec"})
    assert art.metadata.extra["tensorrt"]["builder"] == "trtexec"
    x = np.random.default_rng(2).standard_normal((8, 3, 32, 32)).astype(np.float32)
    p, _ = _agree(art, model, x)
    assert p["agreement"] >= 99.0, p
