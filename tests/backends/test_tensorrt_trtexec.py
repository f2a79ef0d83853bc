"""TensorRT without TensorRT: the equivalent trtexec line, `available()` reasons, the kind of ONNX a build
gets, and building through trtexec as a subprocess.

The subprocess path is tested with a stand-in `trtexec` script on PATH that records the argv it was
called with, prints trtexec's banner and device lines, and writes a file where the engine goes: what is
checked is edgecv's side (the arguments, reading the version and GPU back, the sidecar record, a
missing or failing trtexec), not TensorRT. Real engines are built in test_tensorrt_engine.py.
"""
from __future__ import annotations

import json
import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import edgecv.quantize.onnx_builders  # noqa: F401  (attaches ONNX Runtime's int8/fp16 builders, used for FP16 on TensorRT 11)
from edgecv.backends import BACKENDS, Artifact
from edgecv.backends.tensorrt.backend import availability
from edgecv.backends.tensorrt.builder import VersionError, compute_profile, decide, onnx_kind
from edgecv.backends.tensorrt.runner import bindings_installed, has_nvidia_gpu
from edgecv.backends.tensorrt.metadata import sha256_file
from edgecv.backends.tensorrt.trtexec import (ENV_TRTEXEC, TrtexecMissing, command_line, find_trtexec, parse_banner,
                                              parse_device, trtexec_argv)

HAS_BINDINGS = bindings_installed()
SHAPES = ["--minShapes=input:1x3x32x32", "--optShapes=input:1x3x32x32", "--maxShapes=input:32x3x32x32"]

FAKE_TRTEXEC = '''#!PYTHON
import hashlib, json, os, sys
args = sys.argv[1:]
call = {"argv": sys.argv}
onnx = next((a.split("=", 1)[1] for a in args if a.startswith("--onnx=")), None)
if onnx:
    call["onnx_sha256"] = hashlib.sha256(open(onnx, "rb").read()).hexdigest()
with open(os.environ["FAKE_TRTEXEC_LOG"], "a") as f:
    f.write(json.dumps(call) + "\\n")
version = os.environ.get("FAKE_TRTEXEC_VERSION", "100300")
print(f"&&&& RUNNING TensorRT.trtexec [TensorRT v{version}] # trtexec " + " ".join(args))
if args == ["--version"]:
    sys.exit(0)
print("[07/01/2025-10:00:00] [I] === Device Information ===")
print("[07/01/2025-10:00:00] [I] Selected Device: Orin")
print("[07/01/2025-10:00:00] [I] Compute Capability: 8.7")
if os.environ.get("FAKE_TRTEXEC_FAIL"):
    print("[07/01/2025-10:00:01] [E] Error[4]: [network.cpp::validate::3100] Error Code 4: fake refusal", file=sys.stderr)
    print(f"&&&& FAILED TensorRT.trtexec [TensorRT v{version}]")
    sys.exit(1)
if not os.environ.get("FAKE_TRTEXEC_NO_ENGINE"):
    engine = next(a.split("=", 1)[1] for a in args if a.startswith("--saveEngine="))
    open(engine, "wb").write(b"stand-in engine: not a TensorRT plan")
print(f"&&&& PASSED TensorRT.trtexec [TensorRT v{version}]")
'''


@pytest.fixture
def fake_trtexec(tmp_path, monkeypatch):
    """A stand-in `trtexec` first on PATH; `.calls()` gives each call's argv (and its ONNX's sha256)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "trtexec"
    script.write_text(FAKE_TRTEXEC.replace("PYTHON", sys.executable))
    script.chmod(0o755)
    log = tmp_path / "trtexec-calls.jsonl"
    monkeypatch.setenv("FAKE_TRTEXEC_LOG", str(log))
    monkeypatch.delenv(ENV_TRTEXEC, raising=False)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")

    def calls():
        return [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []

    return SimpleNamespace(path=str(script), calls=calls)


@pytest.fixture(scope="module")
def model():
    from edgecv.models import create_model

    torch.manual_seed(0)
    return create_model("cifar_resnet8", num_classes=10).eval()


@pytest.fixture(scope="module")
def onnx_files(model, tmp_path_factory):
    """The model's FP32 ONNX, and Q/DQ INT8 ONNX from the quantize stage with int8 and uint8 activations."""
    from edgecv.quantize import QuantizeSpec, quantize_onnx

    out = tmp_path_factory.mktemp("trt_onnx")
    fp32 = BACKENDS.get("onnxruntime").build(model, torch.zeros(1, 3, 32, 32), "fp32", None, out).path
    images = [np.random.default_rng(0).standard_normal((16, 3, 32, 32)).astype(np.float32)]
    files = {"fp32": fp32}
    for act in ("int8", "uint8"):
        spec = QuantizeSpec(activation_type=act, calib_size=16, preprocess=False)
        files[act] = quantize_onnx(fp32, out / f"m-{act}.onnx", "int8", images, spec=spec).artifact.path
    return files


def _build(precision, out, calibration=None, model=None, **options):
    return BACKENDS.get("tensorrt").build(model, torch.zeros(1, 3, 32, 32), precision, calibration, out,
                                          {"builder": "trtexec", **options})


def test_trtexec_argv_for_each_plan():
    profile = compute_profile((1, 3, 32, 32))
    argv = trtexec_argv("trtexec", "m.onnx", "m.engine", decide((10, 3, 0), "fp32"), profile)
    assert argv == ["trtexec", "--onnx=m.onnx", "--saveEngine=m.engine", *SHAPES, "--noTF32", "--skipInference"]
    dla = trtexec_argv("/usr/src/tensorrt/bin/trtexec", "m.onnx", "m.engine", decide((10, 3, 0), "fp16", dla_core=0),
                       compute_profile((1, 3, 32, 32), (4, 4, 4), dla=True), workspace_mb=512, timing_cache="t.cache",
                       build_only=False)
    assert dla == ["/usr/src/tensorrt/bin/trtexec", "--onnx=m.onnx", "--saveEngine=m.engine",
                   "--minShapes=input:4x3x32x32", "--optShapes=input:4x3x32x32", "--maxShapes=input:4x3x32x32",
                   "--fp16", "--memPoolSize=workspace:512M", "--timingCacheFile=t.cache", "--useDLACore=0",
                   "--allowGPUFallback"]
    calib = trtexec_argv("trtexec", "m.onnx", "m.engine", decide((10, 3, 0), "int8"), profile, calibration_cache="m.calib")
    assert calib[6:] == ["--int8", "--calib=m.calib", "--skipInference"]
    with pytest.raises(ValueError, match="trtexec cannot calibrate"):
        trtexec_argv("trtexec", "m.onnx", "m.engine", decide((10, 3, 0), "int8"), profile)
    qdq10 = trtexec_argv("trtexec", "q.onnx", "m.engine", decide((10, 3, 0), "int8", "qdq"), profile)
    assert qdq10[6:] == ["--stronglyTyped", "--skipInference"]
    qdq11 = trtexec_argv("trtexec", "q.onnx", "m.engine", decide((11, 0, 0), "int8", "qdq"), profile)
    assert qdq11[6:] == ["--skipInference"]  # 11: always strongly typed, and --int8/--stronglyTyped are gone
    fp16_11 = trtexec_argv("trtexec", "h.onnx", "m.engine", decide((11, 0, 0), "fp16", "fp16"), profile)
    assert "--fp16" not in fp16_11
    assert command_line(["trtexec", "--onnx=/my models/m.onnx"]) == "trtexec '--onnx=/my models/m.onnx'"


def test_trtexec_banner_and_device_lines():
    assert parse_banner("&&&& RUNNING TensorRT.trtexec [TensorRT v100300] # /usr/src/tensorrt/bin/trtexec --version") == (10, 3, 0)
    assert parse_banner("&&&& PASSED TensorRT.trtexec [TensorRT v100800] [b43] # trtexec --onnx=m.onnx") == (10, 8, 0)
    assert parse_banner("&&&& RUNNING TensorRT.trtexec [TensorRT v8502] # trtexec") == (8, 5, 2)
    assert parse_banner("TensorRT v10.9.0") == (10, 9, 0)
    assert parse_banner("usage: trtexec [options]") is None
    log = ("[07/01/2025-10:00:00] [I] === Device Information ===\n"
           "[07/01/2025-10:00:00] [I] Selected Device: NVIDIA GeForce RTX 4090\n"
           "[07/01/2025-10:00:00] [I] Compute Capability: 8.9\n[07/01/2025-10:00:00] [I] SMs: 128\n")
    assert parse_device(log) == {"name": "NVIDIA GeForce RTX 4090", "compute_capability": "8.9"}
    assert parse_device("nothing about devices") is None


def test_find_trtexec_order():
    runnable = {"/opt/env/trtexec", "/usr/bin/trtexec", "/usr/src/tensorrt/bin/trtexec"}
    on_path = {"trtexec": "/usr/bin/trtexec"}
    assert find_trtexec({ENV_TRTEXEC: "/opt/env/trtexec"}, on_path.get, runnable.__contains__) == "/opt/env/trtexec"
    assert find_trtexec({ENV_TRTEXEC: "/gone/trtexec"}, on_path.get, runnable.__contains__) is None
    assert find_trtexec({}, on_path.get, runnable.__contains__) == "/usr/bin/trtexec"
    assert find_trtexec({}, {}.get, runnable.__contains__) == "/usr/src/tensorrt/bin/trtexec"  # JetPack's place
    assert find_trtexec({}, {}.get, lambda p: False) is None


def test_available_reasons():
    assert availability(False, None, False) == (
        False, "tensorrt not installed: pip install 'edgecv[tensorrt]' (or put JetPack's trtexec on PATH)")
    ok, why = availability(True, None, False)
    assert not ok and why.startswith("no NVIDIA GPU found: tensorrt is installed")
    ok, why = availability(False, "/usr/src/tensorrt/bin/trtexec", False)
    assert not ok and "no NVIDIA GPU found: trtexec is at /usr/src/tensorrt/bin/trtexec" in why
    ok, why = availability(False, "/usr/src/tensorrt/bin/trtexec", True)
    assert ok and "builds through trtexec (/usr/src/tensorrt/bin/trtexec)" in why and "pip install 'edgecv[tensorrt]'" in why
    assert availability(True, None, True) == (True, "")


@pytest.mark.skipif(HAS_BINDINGS, reason="the tensorrt bindings are installed here")
def test_available_here_without_and_with_trtexec(fake_trtexec, monkeypatch):
    b = BACKENDS.get("tensorrt")
    monkeypatch.setenv(ENV_TRTEXEC, "/nonexistent/trtexec")  # and nothing else is searched
    assert b.available() == (False, "tensorrt not installed: pip install 'edgecv[tensorrt]' (or put JetPack's trtexec on PATH)")
    monkeypatch.delenv(ENV_TRTEXEC)
    ok, why = b.available()  # the stand-in trtexec is first on PATH now
    assert ok == has_nvidia_gpu() and fake_trtexec.path in why
    assert ("builds through trtexec" if ok else "no NVIDIA GPU found") in why


def test_onnx_kinds(onnx_files, tmp_path):
    from edgecv.quantize.fp16 import convert_fp16

    assert onnx_kind(onnx_files["fp32"]) == "fp32"
    assert onnx_kind(onnx_files["int8"]) == "qdq"
    with pytest.raises(ValueError, match="uint8 \\(asymmetric\\) quantization; TensorRT runs symmetric int8 Q/DQ: .*--activation-type int8"):
        onnx_kind(onnx_files["uint8"])
    convert_fp16(onnx_files["fp32"], tmp_path / "m-fp16.onnx")
    assert onnx_kind(tmp_path / "m-fp16.onnx") == "fp16"


def test_fp32_build_through_trtexec(fake_trtexec, model, onnx_files, tmp_path):
    from edgecv.backends.onnx_file import onnx_params

    out = tmp_path / "out"
    art = _build("fp32", out, model=model, batch="1,8,32", workspace_mb=256, timing_cache=str(tmp_path / "t.cache"))
    version_call, build_call = fake_trtexec.calls()
    assert version_call["argv"] == [fake_trtexec.path, "--version"]
    argv = build_call["argv"]
    onnx, saved = argv[1].removeprefix("--onnx="), argv[2].removeprefix("--saveEngine=")
    assert onnx.endswith("cifar_resnet8-fp32.onnx") and not os.path.exists(onnx)  # a scratch export, gone now
    assert saved.startswith(str(out / ".cifar_resnet8-fp32.engine."))  # written beside, renamed when complete
    assert argv[3:] == ["--minShapes=input:1x3x32x32", "--optShapes=input:8x3x32x32", "--maxShapes=input:32x3x32x32",
                        "--noTF32", "--memPoolSize=workspace:256M", f"--timingCacheFile={tmp_path / 't.cache'}",
                        "--skipInference"]
    assert art.path == out / "cifar_resnet8-fp32.engine" and art.path.read_bytes().startswith(b"stand-in engine")
    assert sorted(p.name for p in out.iterdir()) == ["cifar_resnet8-fp32.engine", "cifar_resnet8-fp32.engine.edgecv.json"]

    meta = Artifact.from_path(art.path).metadata  # what the sidecar says, read back
    assert Artifact.from_path(art.path).backend == "tensorrt"
    rec = meta.extra["tensorrt"]
    assert rec["version"] == "10.3.0" and rec["gpu"] == "Orin" and rec["compute_capability"] == "8.7"
    assert rec["precision"] == "fp32" and rec["builder"] == "trtexec" and rec["onnx_kind"] == "fp32"
    assert rec["onnx_sha256"] == build_call["onnx_sha256"]  # the hash of the very file trtexec built from
    assert rec["profiles"] == [{"input": "input", "min": [1, 3, 32, 32], "opt": [8, 3, 32, 32], "max": [32, 3, 32, 32]}]
    assert meta.input_shape == ["batch", 3, 32, 32] and meta.precision == "fp32"
    assert meta.tool_versions["tensorrt"] == "10.3.0" and meta.source_model == "cifar_resnet8"
    assert meta.extra["params"] == onnx_params(onnx_files["fp32"])  # the same model's ONNX (BatchNorm folded)
    assert meta.extra["trtexec"] == (
        "trtexec --onnx=cifar_resnet8-fp32.onnx --saveEngine=cifar_resnet8-fp32.engine --minShapes=input:1x3x32x32 "
        "--optShapes=input:8x3x32x32 --maxShapes=input:32x3x32x32 --noTF32 --memPoolSize=workspace:256M "
        f"--timingCacheFile={tmp_path / 't.cache'} --skipInference")
    if not HAS_BINDINGS:  # the engine is there, but running it needs the bindings: said plainly
        with pytest.raises(ImportError, match="pip install 'edgecv\\[tensorrt\\]'"):
            BACKENDS.get("tensorrt").load(art)


def test_fp16_on_the_dla_through_trtexec(fake_trtexec, model, tmp_path):
    art = _build("fp16", tmp_path, model=model, dla_core=0, batch=4)
    argv = fake_trtexec.calls()[-1]["argv"]
    assert argv[3:] == ["--minShapes=input:4x3x32x32", "--optShapes=input:4x3x32x32", "--maxShapes=input:4x3x32x32",
                        "--fp16", "--useDLACore=0", "--allowGPUFallback", "--skipInference"]
    assert art.metadata.input_shape == [4, 3, 32, 32]  # a static profile: fixed-batch artifact
    assert art.metadata.extra["tensorrt"]["dla_core"] == 0
    assert art.metadata.extra["tensorrt"]["builder_flags"] == ["FP16", "GPU_FALLBACK"]


def test_implicit_int8_through_trtexec_needs_a_cache_of_this_release(fake_trtexec, model, tmp_path):
    images = [np.random.default_rng(0).standard_normal((8, 3, 32, 32)).astype(np.float32)]
    with pytest.raises(ValueError, match="trtexec cannot calibrate: give a calibration cache made by TensorRT 10.3.0"):
        _build("int8", tmp_path / "a", images, model=model)
    cache = tmp_path / "m.calib"
    cache.write_bytes(b"TRT-8600-EntropyCalibration2\ninput: 3c010a14\n")
    with pytest.raises(ValueError, match="made by TensorRT 8.6.0; this is TensorRT 10.3.0: give calibration images"):
        _build("int8", tmp_path / "b", model=model, calibration_cache=str(cache))
    with pytest.raises(ValueError, match="trtexec cannot calibrate: .*made by TensorRT 8.6.0"):
        _build("int8", tmp_path / "b", images, model=model, calibration_cache=str(cache))
    cache.write_bytes(b"TRT-100300-EntropyCalibration2\ninput: 3c010a14\n")
    art = _build("int8", tmp_path / "c", model=model, calibration_cache=str(cache))  # no images: the cache has the scales
    argv = fake_trtexec.calls()[-1]["argv"]
    assert argv[6:] == ["--int8", f"--calib={cache}", "--skipInference"]
    rec = art.metadata.extra["tensorrt"]
    assert rec["int8_mode"] == "implicit" and rec["calibration_cache"] == str(cache) and rec["calibration_cache_reused"]
    assert f"--int8 --calib={cache}" in art.metadata.extra["trtexec"]
    with pytest.raises(ValueError, match="needs calibration images"):  # neither images nor a cache
        _build("int8", tmp_path / "d", model=model)


def test_qdq_int8_through_trtexec(fake_trtexec, onnx_files, model, tmp_path):
    qdq = onnx_files["int8"]
    art = _build("int8", tmp_path, model=model, onnx=str(qdq))  # no calibration images: the file holds the scales
    call = fake_trtexec.calls()[-1]
    # ONNX Runtime quantizes biases to int32, which TensorRT cannot dequantize: it builds from a folded copy
    assert call["argv"][1].endswith("/cifar_resnet8-int8-trt.onnx")
    assert call["argv"][6:] == ["--stronglyTyped", "--skipInference"]
    rec = art.metadata.extra["tensorrt"]
    assert rec["int8_mode"] == "qdq" and rec["onnx_kind"] == "qdq" and rec["strongly_typed"]
    assert rec["onnx"] == str(qdq.resolve()) and rec["onnx_sha256"] == sha256_file(qdq)  # the source
    assert rec["built_from"] == "int32 bias DequantizeLinear folded to float"
    assert rec["built_onnx_sha256"] == call["onnx_sha256"]  # and the file trtexec really read
    assert art.metadata.extra["quantization"]["activation_type"] == "int8"  # carried over from the quantize stage
    assert art.precision == "int8" and "--onnx=cifar_resnet8-int8-trt.onnx " in art.metadata.extra["trtexec"]
    with pytest.raises(ValueError, match="uint8 \\(asymmetric\\)"):
        _build("int8", tmp_path / "u", model=model, onnx=str(onnx_files["uint8"]))
    with pytest.raises(ValueError, match="holds Q/DQ INT8 quantization: build it as int8, not fp16"):
        _build("fp16", tmp_path / "f", model=model, onnx=str(qdq))


def test_tensorrt_11_through_trtexec(fake_trtexec, onnx_files, model, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_TRTEXEC_VERSION", "110000")
    with pytest.raises(VersionError, match="TensorRT 11.0.0 has no implicit INT8 calibration"):
        _build("int8", tmp_path, [np.zeros((4, 3, 32, 32), np.float32)], model=model, int8_mode="implicit")
    with pytest.raises(ValueError, match="needs the quantize stage's Q/DQ ONNX"):
        _build("int8", tmp_path, [np.zeros((4, 3, 32, 32), np.float32)], model=model)
    art = _build("int8", tmp_path / "q", model=model, onnx=str(onnx_files["int8"]))
    assert fake_trtexec.calls()[-1]["argv"][6:] == ["--skipInference"]
    assert art.metadata.extra["tensorrt"]["version"] == "11.0.0" and art.metadata.extra["tensorrt"]["strongly_typed"]
    # FP16: TensorRT 11 has no --fp16; the model is exported, converted to an FP16 ONNX, and built from that
    art = _build("fp16", tmp_path / "h", model=model)
    call = fake_trtexec.calls()[-1]
    assert call["argv"][1].endswith("-fp16.onnx") and "--fp16" not in call["argv"]
    rec = art.metadata.extra["tensorrt"]
    assert rec["onnx_kind"] == "fp16" and rec["built_from"] == "converted to FP16" and art.precision == "fp16"
    assert rec["built_onnx_sha256"] == call["onnx_sha256"] != rec["onnx_sha256"]
    with pytest.raises(VersionError, match="TensorRT 11.0.0 has no DLA support"):
        _build("fp16", tmp_path / "d", model=model, dla_core=0)


def test_old_tensorrt_is_refused(fake_trtexec, model, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_TRTEXEC_VERSION", "8502")
    with pytest.raises(VersionError, match="TensorRT 8.5.2 is too old"):
        _build("fp32", tmp_path, model=model)


def test_failed_missing_or_silent_trtexec_is_a_clear_error(fake_trtexec, model, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_TRTEXEC_FAIL", "1")
    with pytest.raises(RuntimeError, match="trtexec failed \\(exit 1\\): .*Error Code 4: fake refusal"):
        _build("fp32", tmp_path / "a", model=model)
    assert not any((tmp_path / "a").iterdir())  # no half-written engine, no sidecar
    monkeypatch.delenv("FAKE_TRTEXEC_FAIL")
    monkeypatch.setenv("FAKE_TRTEXEC_NO_ENGINE", "1")
    with pytest.raises(RuntimeError, match="trtexec exited 0 but wrote no engine"):
        _build("fp32", tmp_path / "b", model=model)
    monkeypatch.setenv(ENV_TRTEXEC, str(tmp_path / "no" / "trtexec"))
    with pytest.raises(TrtexecMissing, match="builder trtexec: trtexec not found \\(looked at \\$EDGECV_TRTEXEC, PATH"):
        _build("fp32", tmp_path / "c", model=model)


def test_int32_bias_folding_computes_the_same(onnx_files, tmp_path):
    """ONNX Runtime's int32 biases, folded to the float values they dequantize to: the same network."""
    import onnx

    from edgecv.backends.onnxruntime.runner import open_session
    from edgecv.backends.tensorrt.builder import fold_int32_dequantize

    out = tmp_path / "folded.onnx"
    folded = fold_int32_dequantize(onnx_files["int8"], out)
    graph = onnx.load(str(out)).graph
    types = {t.name: t.data_type for t in graph.initializer}
    before = onnx.load(str(onnx_files["int8"])).graph
    int32_dq = [n for n in before.node if n.op_type == "DequantizeLinear"
                and {t.name: t.data_type for t in before.initializer}.get(n.input[0]) == onnx.TensorProto.INT32]
    assert folded == len(int32_dq) > 0
    assert not [n for n in graph.node if n.op_type == "DequantizeLinear" and types.get(n.input[0]) == onnx.TensorProto.INT32]
    assert onnx_kind(out) == "qdq" and not any(t == onnx.TensorProto.INT32 for t in types.values())
    x = np.random.default_rng(1).standard_normal((8, 3, 32, 32)).astype(np.float32)
    a = open_session(onnx_files["int8"], 1).run(None, {"input": x})[0]
    b = open_session(out, 1).run(None, {"input": x})[0]
    np.testing.assert_allclose(b, a, atol=1e-4 * max(1.0, float(np.abs(a).max())))
    assert fold_int32_dequantize(out, tmp_path / "again.onnx") == 0 and not (tmp_path / "again.onnx").exists()
