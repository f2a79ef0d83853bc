"""TensorRT without TensorRT: the version decision table, the optimization profile and the builder options
(pure functions, tested everywhere)."""
from __future__ import annotations

import itertools

import pytest

from edgecv.backends.tensorrt.builder import (BuildPlan, VersionError, compute_profile, decide, parse_batch,
                                            parse_options)

V8, V10, V11, V11_4_1 = (8, 6, 1), (10, 3, 0), (11, 0, 0), (11, 4, 1)

# (version, precision, given ONNX, int8_mode, dla_core) -> the plan's fields, or the error it raises
TABLE = [
    # TensorRT 10: weakly typed builds with precision flags, implicit calibration, strongly typed Q/DQ
    (V10, "fp32", None, "auto", None, dict(onnx="fp32", strongly_typed=False, network_flags=(), builder_flags=(), clear_flags=("TF32",))),
    (V10, "fp16", None, "auto", None, dict(onnx="fp32", strongly_typed=False, builder_flags=("FP16",))),
    (V10, "fp16", "fp16", "auto", None, dict(onnx="fp16", strongly_typed=False, builder_flags=("FP16",))),
    (V10, "int8", None, "auto", None, dict(onnx="fp32", int8_mode="implicit", calibrate=True, builder_flags=("INT8",))),
    (V10, "int8", "fp32", "implicit", None, dict(onnx="fp32", int8_mode="implicit", calibrate=True)),
    (V10, "int8", "qdq", "auto", None, dict(onnx="qdq", int8_mode="qdq", strongly_typed=True,
                                           network_flags=("STRONGLY_TYPED",), builder_flags=(), calibrate=False)),
    (V10, "int8", None, "qdq", None, "needs the quantize stage's Q/DQ ONNX"),
    (V10, "int8", "qdq", "implicit", None, "already holds Q/DQ"),
    (V10, "fp32", "qdq", "auto", None, "build it as int8, not fp32"),
    (V10, "fp32", "fp16", "auto", None, "build it as fp16, not fp32"),
    # TensorRT 10 on the DLA: fp16 or calibrated int8, with GPU fallback unless turned off
    (V10, "fp16", None, "auto", 0, dict(dla_core=0, builder_flags=("FP16", "GPU_FALLBACK"))),
    (V10, "int8", None, "auto", 1, dict(dla_core=1, int8_mode="implicit", builder_flags=("INT8", "GPU_FALLBACK"))),
    (V10, "fp32", None, "auto", 0, "the DLA runs fp16 and int8 only"),
    (V10, "int8", "qdq", "qdq", 0, "DLA INT8 with TensorRT 10 is built by implicit entropy calibration"),
    # TensorRT 11: everything strongly typed, no precision flags, no calibrators, no DLA before 11.4.1
    (V11, "fp32", None, "auto", None, dict(onnx="fp32", strongly_typed=True, network_flags=(), clear_flags=("TF32",))),
    (V11, "fp16", None, "auto", None, dict(onnx="fp16", strongly_typed=True, builder_flags=())),
    (V11, "fp16", "fp32", "auto", None, dict(onnx="fp16", strongly_typed=True, builder_flags=())),
    (V11, "int8", "qdq", "auto", None, dict(onnx="qdq", int8_mode="qdq", strongly_typed=True, network_flags=(),
                                           builder_flags=())),
    (V11, "int8", None, "auto", None, "needs the quantize stage's Q/DQ ONNX"),
    (V11, "int8", None, "implicit", None, "has no implicit INT8 calibration"),
    (V11, "fp16", None, "auto", 0, "has no DLA support"),
    (V11_4_1, "fp16", None, "auto", 0, dict(onnx="fp16", dla_core=0, builder_flags=("GPU_FALLBACK",))),
    (V11_4_1, "int8", "qdq", "auto", 0, dict(onnx="qdq", int8_mode="qdq", builder_flags=("GPU_FALLBACK",))),
    (V11_4_1, "int8", None, "implicit", 0, "has no implicit INT8 calibration"),
    # TensorRT 8: refused (edgecv uses TensorRT 10's name-based I/O)
    (V8, "fp32", None, "auto", None, "too old"),
    (V8, "int8", None, "implicit", None, "too old"),
]


@pytest.mark.parametrize("version,precision,given,mode,dla,expected", TABLE)
def test_version_decision_table(version, precision, given, mode, dla, expected):
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=expected):
            decide(version, precision, given, mode, dla)
        return
    plan = decide(version, precision, given, mode, dla)
    assert isinstance(plan, BuildPlan) and plan.version == version and plan.precision == precision
    for key, value in expected.items():
        assert getattr(plan, key) == value, (key, plan)


def test_version_errors_are_version_errors():
    with pytest.raises(VersionError, match="TensorRT 8.6.1 is too old"):
        decide(V8, "fp32")
    with pytest.raises(VersionError, match="TensorRT 11.0.0 has no implicit INT8"):
        decide(V11, "int8", int8_mode="implicit")


def test_dla_without_gpu_fallback():
    assert decide(V10, "fp16", dla_core=0, gpu_fallback=False).builder_flags == ("FP16",)


def test_no_plan_builds_another_precision_than_asked():
    """Every answer of the table, over all its inputs, refuses or builds exactly the precision asked for."""
    built = 0
    for version, precision, given, mode, dla in itertools.product(
            [V10, V11, V11_4_1], ["fp32", "fp16", "int8"], [None, "fp32", "fp16", "qdq"], ["auto", "qdq", "implicit"], [None, 0]):
        try:
            plan = decide(version, precision, given, mode, dla)
        except ValueError:
            continue
        built += 1
        case = (version, precision, given, mode, dla, plan)
        assert plan.precision == precision, case
        lowered = {"FP16", "INT8"} & set(plan.builder_flags)
        if precision == "fp32":
            assert not lowered and plan.onnx == "fp32" and "TF32" in plan.clear_flags, case
        elif precision == "fp16":
            assert lowered == {"FP16"} or (plan.onnx == "fp16" and plan.strongly_typed and not lowered), case
        else:
            assert (lowered == {"INT8"} and plan.calibrate) or (plan.onnx == "qdq" and plan.strongly_typed and not lowered), case
        if plan.strongly_typed:
            assert not lowered, case  # precision flags are invalid on strongly typed networks
        if version[0] >= 11:
            assert plan.strongly_typed and not plan.calibrate and plan.network_flags == (), case
    assert built >= 30


def test_default_profile_from_the_sample():
    p = compute_profile((1, 3, 32, 32))
    assert (p.min, p.opt, p.max) == ((1, 3, 32, 32), (1, 3, 32, 32), (32, 3, 32, 32)) and not p.static
    assert p.record() == {"input": "input", "min": [1, 3, 32, 32], "opt": [1, 3, 32, 32], "max": [32, 3, 32, 32]}
    assert compute_profile((8, 3, 64, 48)).opt == (8, 3, 64, 48)
    assert compute_profile((64, 3, 32, 32)).max == (64, 3, 32, 32)  # never below the sample's batch


def test_requested_profile_and_static_batch():
    p = compute_profile((1, 3, 32, 32), (1, 8, 32), input_name="images")
    assert (p.input, p.min[0], p.opt[0], p.max[0]) == ("images", 1, 8, 32)
    s = compute_profile((1, 3, 32, 32), (4, 4, 4))
    assert s.static and s.min == s.opt == s.max == (4, 3, 32, 32)


def test_dla_profiles_are_static():
    assert compute_profile((2, 3, 32, 32), dla=True).static  # default: the sample's batch alone
    with pytest.raises(ValueError, match="DLA runs static shapes only: give one batch size"):
        compute_profile((1, 3, 32, 32), (1, 8, 32), dla=True)


@pytest.mark.parametrize("batch,error", [
    ((1, 64, 32), "opt 64 is outside \\[min 1, max 32\\]"),
    ((16, 8, 32), "opt 8 is outside"),
    ((32, 32, 8), "min 32 is above max 8"),
    ((0, 1, 8), "must be >= 1"),
])
def test_bad_profiles_are_refused(batch, error):
    with pytest.raises(ValueError, match=error):
        compute_profile((1, 3, 32, 32), batch)


def test_profile_must_fit_what_the_onnx_fixes():
    assert compute_profile((1, 3, 32, 32), (1, 1, 1), onnx_shape=[1, 3, 32, 32]).static
    with pytest.raises(ValueError, match="fixes N = 1, but the build asks for batch 1..32"):
        compute_profile((1, 3, 32, 32), onnx_shape=[1, 3, 32, 32])
    with pytest.raises(ValueError, match="fixes H = 224, but the build asks for H = 32"):
        compute_profile((1, 3, 32, 32), onnx_shape=["batch", 3, 224, 224])
    assert compute_profile((1, 3, 32, 32), onnx_shape=["batch", 3, 32, 32]).max[0] == 32
    with pytest.raises(ValueError, match="4-D NCHW"):
        compute_profile((3, 32, 32))


@pytest.mark.parametrize("value,expected", [
    (8, (8, 8, 8)), ("8", (8, 8, 8)), ("1,8,32", (1, 8, 32)), ("1, 8, 32", (1, 8, 32)), ([1, 4, 16], (1, 4, 16)),
    ({"min": 2, "opt": 4, "max": 8}, (2, 4, 8)),
])
def test_batch_option_forms(value, expected):
    assert parse_batch(value) == expected


@pytest.mark.parametrize("value,error", [
    ("1,8", "give one size"), ("a", "whole number"), (True, "whole number"), (-1, "whole number"), (0, ">= 1"),
    ({"min": 1}, "missing opt, max"), (2.5, "whole number"),
])
def test_bad_batch_options(value, error):
    with pytest.raises(ValueError, match=error):
        parse_batch(value)


def test_options_are_checked_and_typed(tmp_path):
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"x")
    o = parse_options({"batch": "1,8,32", "workspace_mb": "512", "timing_cache": str(tmp_path / "t.cache"),
                       "dla_core": 1, "gpu_fallback": False, "int8_mode": "implicit", "onnx": str(onnx),
                       "calibration_cache": str(tmp_path / "c.calib"), "builder": "trtexec", "preprocess": None})
    assert o.batch == (1, 8, 32) and o.workspace_mb == 512 and o.dla_core == 1 and o.gpu_fallback is False
    assert o.timing_cache == tmp_path / "t.cache" and o.onnx == onnx and o.builder == "trtexec"
    assert parse_options({}).int8_mode == "auto" and parse_options({}).gpu_fallback is True
    with pytest.raises(ValueError, match="option int8_mode must be one of auto, qdq, implicit"):
        parse_options({"int8_mode": "dynamic"})
    with pytest.raises(ValueError, match="option builder must be one of"):
        parse_options({"builder": "polygraphy"})
    with pytest.raises(ValueError, match="workspace_mb must be a whole number"):
        parse_options({"workspace_mb": "lots"})
    with pytest.raises(ValueError, match="gpu_fallback must be true or false"):
        parse_options({"gpu_fallback": "yes"})
    with pytest.raises(FileNotFoundError, match="option onnx: .*missing.onnx not found"):
        parse_options({"onnx": tmp_path / "missing.onnx"})
