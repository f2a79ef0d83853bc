"""TensorRT without TensorRT: the engine record, the refusal to load an engine built for another release
or GPU, TensorRT's packed versions, and the INT8 calibration cache (read, write, reuse)."""
from __future__ import annotations

import numpy as np
import pytest

from edgecv.backends.tensorrt.builder import (calibration_batches, cache_header, compute_profile, decide,
                                            read_calibration_cache, reuse_calibration_cache, write_calibration_cache)
from edgecv.backends.tensorrt.metadata import (EngineMismatch, check_engine, decode_version_int, engine_mismatch,
                                              engine_record, here_record, parse_version, release)

ORIN = {"name": "Orin", "compute_capability": "8.7"}
H200 = {"name": "NVIDIA H200", "compute_capability": "9.0"}


def _record(version="10.3.0.30", gpu=ORIN, precision="int8"):
    plan = decide(parse_version(version), precision)
    return engine_record(version, gpu, precision, plan, compute_profile((1, 3, 32, 32), (1, 8, 32)), "ab" * 32,
                         "python", calibration_cache="/data/m.calib", workspace_mb=None)


def test_versions():
    assert parse_version("10.3.0.30") == (10, 3, 0, 30) and parse_version("v11.4.1") == (11, 4, 1)
    assert parse_version(None) is None and parse_version("unknown") is None
    assert release("10.3.0.30") == "10.3.0" and release((10, 3)) == "10.3.0" and release(None) is None
    # TensorRT's packed numbers: trtexec banners and calibration-cache headers
    assert decode_version_int(100300) == (10, 3, 0)
    assert decode_version_int(100001) == (10, 0, 1)
    assert decode_version_int(110401) == (11, 4, 1)
    assert decode_version_int(8502) == (8, 5, 2)
    assert decode_version_int(8601) == (8, 6, 1)


def test_engine_record_holds_what_the_issue_asks():
    r = _record()
    assert r["version"] == "10.3.0" and r["version_full"] == "10.3.0.30"
    assert r["gpu"] == "Orin" and r["compute_capability"] == "8.7"
    assert r["precision"] == "int8" and r["int8_mode"] == "implicit" and r["builder_flags"] == ["INT8"]
    assert r["profiles"] == [{"input": "input", "min": [1, 3, 32, 32], "opt": [8, 3, 32, 32], "max": [32, 3, 32, 32]}]
    assert r["onnx_sha256"] == "ab" * 32 and r["builder"] == "python"
    assert r["calibration_cache"] == "/data/m.calib" and "workspace_mb" not in r  # unset options are left out


def test_same_release_and_gpu_loads():
    built = _record("10.3.0.30")
    assert engine_mismatch(built, here_record("10.3.0.26", ORIN)) == []  # another build of the same release
    check_engine("m.engine", built, here_record("10.3.0", ORIN))


def test_other_tensorrt_release_is_refused_with_the_difference():
    with pytest.raises(EngineMismatch) as e:
        check_engine("m.engine", _record("10.3.0.30"), here_record("10.7.0.23", ORIN))
    msg = str(e.value)
    assert "m.engine was built for TensorRT 10.3.0 on Orin (compute capability 8.7)" in msg
    assert "this machine has TensorRT 10.7.0 on Orin" in msg
    assert "TensorRT: built 10.3.0, here 10.7.0" in msg and "GPU:" not in msg
    assert "rebuild it here" in msg and "abababababab" in msg  # the source ONNX's hash, to find it


def test_other_gpu_is_refused_with_the_difference():
    with pytest.raises(EngineMismatch) as e:
        check_engine("m.engine", _record(), here_record("10.3.0", H200))
    msg = str(e.value)
    assert "GPU: built 'Orin', here 'NVIDIA H200'" in msg
    assert "compute capability: built 8.7, here 9.0" in msg and "TensorRT: built" not in msg
    assert isinstance(e.value, ValueError)


def test_unknown_values_are_not_compared():
    assert engine_mismatch(_record(gpu=None), here_record("10.3.0", H200)) == []  # the build did not know its GPU
    assert engine_mismatch(_record(), here_record("10.3.0", None)) == []  # this machine cannot say
    assert engine_mismatch(_record(), here_record("11.0.0", None)) == ["TensorRT: built 10.3.0, here 11.0.0"]


def test_calibration_cache_write_and_read(tmp_path):
    path = tmp_path / "caches" / "m.calib"
    data = b"TRT-100300-EntropyCalibration2\ninput: 3c010a14\n/conv1/Conv_output_0: 3d2c5a3b\n"
    assert read_calibration_cache(path) is None  # none yet: TensorRT calibrates
    assert read_calibration_cache(None) is None
    write_calibration_cache(path, memoryview(data))  # TensorRT hands the cache over as a buffer
    assert read_calibration_cache(path) == data
    assert [p.name for p in path.parent.iterdir()] == ["m.calib"]  # written atomically: no scratch left
    path.write_bytes(b"")
    assert read_calibration_cache(path) is None  # an empty file is no cache


def test_calibration_cache_header():
    assert cache_header(b"TRT-100300-EntropyCalibration2\ninput: 3c010a14\n") == ((10, 3, 0), "EntropyCalibration2")
    assert cache_header(b"TRT-8600-EntropyCalibration2\n") == ((8, 6, 0), "EntropyCalibration2")
    assert cache_header(b"TRT-100300-MinMaxCalibration") == ((10, 3, 0), "MinMaxCalibration")
    with pytest.raises(ValueError, match="not a TensorRT calibration cache"):
        cache_header(b"\x89PNG\r\n")


def test_calibration_cache_reuse_decision(tmp_path):
    cache = tmp_path / "m.calib"
    v10 = (10, 3, 0)
    with pytest.raises(ValueError, match="needs calibration images .* or an existing calibration cache"):
        reuse_calibration_cache(cache, v10, have_images=False)
    assert reuse_calibration_cache(cache, v10, have_images=True) == (False, None)  # calibrate, then write it
    cache.write_bytes(b"TRT-100300-EntropyCalibration2\ninput: 3c010a14\n")
    assert reuse_calibration_cache(cache, v10, have_images=False) == (True, None)
    assert reuse_calibration_cache(cache, (10, 3, 0, 30), have_images=True) == (True, None)
    cache.write_bytes(b"TRT-8600-EntropyCalibration2\ninput: 3c010a14\n")
    reuse, why = reuse_calibration_cache(cache, v10, have_images=True)
    assert not reuse and "made by TensorRT 8.6.0; this is TensorRT 10.3.0" in why
    with pytest.raises(ValueError, match="made by TensorRT 8.6.0; this is TensorRT 10.3.0: give calibration images"):
        reuse_calibration_cache(cache, v10, have_images=False)
    cache.write_bytes(b"TRT-100300-MinMaxCalibration\n")
    assert "MinMaxCalibration calibrator" in reuse_calibration_cache(cache, v10, have_images=True)[1]
    cache.write_bytes(b"not a cache")
    with pytest.raises(ValueError, match="not a TensorRT calibration cache"):
        reuse_calibration_cache(cache, v10, have_images=False)


def test_calibration_batches_are_equal_sized():
    rng = np.random.default_rng(0)
    source = [rng.standard_normal((32, 3, 8, 8)), rng.standard_normal((32, 3, 8, 8)), rng.standard_normal((6, 3, 8, 8))]
    batches = calibration_batches(source, 32)
    assert [b.shape for b in batches] == [(32, 3, 8, 8)] * 2 and all(b.dtype == np.float32 for b in batches)
    np.testing.assert_array_equal(batches[1], source[1].astype(np.float32))
    assert [b.shape[0] for b in calibration_batches(source, 20)] == [20, 20, 20]  # re-chunked across sources
    assert [b.shape[0] for b in calibration_batches([rng.standard_normal((10, 3, 8, 8))], 32)] == [10]
    assert calibration_batches(None) == [] and calibration_batches(()) == []
