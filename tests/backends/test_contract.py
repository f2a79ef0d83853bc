"""Every registered backend that is usable here builds, loads, returns (N, classes) logits and agrees
with PyTorch on random and real inputs. A new backend is tested the moment it is registered."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import edgecv.app  # noqa: F401  (loads what higher layers attach to backends, e.g. ONNX int8)
from edgecv.backends import BACKENDS, Artifact, ArtifactMetadata, Precision, Runner
from edgecv.eval.logits import parity, run_all
from tests.conftest import SHARED

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@pytest.fixture(scope="module")
def real_images():
    val = SHARED / "cifar10" / "val"
    if not val.is_dir():
        return None
    from edgecv.bench import EvalSet

    return EvalSet.from_folder(val, 32, MEAN, STD, crop_pct=1.0, batch_size=64).first(64)


@pytest.fixture(scope="module")
def built(model, tmp_path_factory):
    """One fp32 artifact per usable backend, built once for the module."""
    out = {}
    for name in BACKENDS.names():
        b = BACKENDS.get(name)
        ok, why = b.available()
        if ok:
            art = b.build(model, torch.zeros(1, 3, 32, 32), "fp32", None, tmp_path_factory.mktemp(name))
            out[name] = art
        else:
            out[name] = why
    return out


@pytest.mark.parametrize("name", BACKENDS.names())
def test_backend_contract(name, model, built, real_images):
    art = built[name]
    if isinstance(art, str):
        pytest.skip(f"backend {name} not available here: {art}")
    b = BACKENDS.get(name)
    assert isinstance(art, Artifact) and art.path.exists() and art.backend == name
    assert art.path.suffix == b.suffix
    assert art.precision == "fp32" and art.sidecar().is_file()
    meta = Artifact.from_path(art.path).metadata  # the sidecar round-trips
    assert meta.source_model == "cifar_resnet20" and meta.input_shape[1:] == [3, 32, 32]
    assert meta.tool_versions.get("torch")

    runner = b.load(art, threads=1)
    assert isinstance(runner, Runner) and isinstance(runner.info, dict)
    seen = b.inspect(art.path)  # what the file itself says agrees with the sidecar
    assert isinstance(seen, ArtifactMetadata) and seen.input_shape[1:] == [3, 32, 32]
    fixed = meta.input_shape[0] if isinstance(meta.input_shape[0], int) else None
    rng = np.random.default_rng(0)
    inputs = {"random": rng.standard_normal((6, 3, 32, 32)).astype(np.float32)}
    if real_images is not None:
        inputs["real"] = real_images
    with torch.no_grad():
        for kind, x in inputs.items():
            out = run_all(runner, [x], fixed)
            assert out.shape == (len(x), 10), kind
            ref = model(torch.from_numpy(x)).numpy()
            p = parity(out, ref)
            scale = max(1.0, float(np.abs(ref).max()))
            assert p["max_abs_diff"] <= 1e-3 * scale, (kind, p)
            assert p["agreement"] >= 98.0, (kind, p)


def test_unknown_backend_has_did_you_mean():
    with pytest.raises(KeyError, match="did you mean 'onnxruntime'"):
        BACKENDS.get("onnxruntim")


@pytest.mark.parametrize("name", BACKENDS.names())
def test_backend_protocol(name, model, tmp_path):
    """The typed protocol: identity, a precision table saying what needs calibration, and build-time
    checks that refuse an unknown option, an unknown precision and missing calibration data."""
    b = BACKENDS.get(name)
    assert b.name == name and b.suffix.startswith(".") and isinstance(b.extra, str) and b.format
    assert "fp32" in b.precisions and all(isinstance(p, Precision) and p.name == k for k, p in b.precisions.items())
    assert not b.precisions["fp32"].needs_calibration and not b.precisions["fp32"].integer
    ok, why = b.available()
    # unusable: what to install, or (a backend installed without the hardware it needs) why not
    assert isinstance(ok, bool) and (ok or "pip install" in why or "no NVIDIA GPU" in why)
    sample = torch.zeros(1, 3, 32, 32)
    with pytest.raises(ValueError, match="does not take option"):
        b.build(model, sample, "fp32", None, tmp_path, {"no_such_option": 1})
    with pytest.raises(ValueError, match="runs"):
        b.build(model, sample, "int3", None, tmp_path)
    for p in (p for p in b.precisions.values() if p.needs_calibration):
        with pytest.raises(ValueError, match="calibration"):
            b.build(model, sample, p.name, None, tmp_path)


def test_a_folder_is_not_an_artifact(tmp_path):
    with pytest.raises(ValueError, match="is a folder; give a model file .*onnx"):
        Artifact.from_path(tmp_path)
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ValueError, match="no backend reads '.bin' files; edgecv reads .*\\.tflite"):
        Artifact.from_path(tmp_path / "weights.bin")
