"""`bench` never reports `ok` for an INT8 file whose weights saturate on the CPU it runs on (x86 without VNNI);
the row names the target it was built for and the CPU. The host is passed in, so this holds on any machine."""
from __future__ import annotations

import numpy as np
import pytest

from edgecv.bench import TimingConfig, benchmark_artifact
from edgecv.targets import TARGETS, Target, host_target

FAST = TimingConfig(warmup=0, min_runs=2, min_time_s=0)


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """The tiny MobileNet-like graph in INT8 for x86 with VNNI (8-bit weights) and without (7-bit)."""
    from edgecv.backends.onnx_saturation import int8_saturation
    from edgecv.quantize import quantize_onnx
    from tests.quantize.conftest import tiny_mobilenet

    work = tmp_path_factory.mktemp("targets")
    fp32 = tiny_mobilenet(work / "tiny.onnx")
    images = [np.random.default_rng(1).standard_normal((16, 3, 8, 8)).astype(np.float32)]
    out = {t: quantize_onnx(fp32, work / f"{t}.onnx", "int8", images, target=t).artifact for t in ("x86-vnni", "x86-avx2")}
    assert not int8_saturation(out["x86-vnni"].path).safe and int8_saturation(out["x86-avx2"].path).safe
    return out


def test_an_8bit_file_on_x86_without_vnni_is_never_ok(builds):
    row, = benchmark_artifact(builds["x86-vnni"], threads=1, timing=FAST, host=TARGETS["x86-avx2"])
    assert row["status"] == "inaccurate"
    assert row["reason"].startswith("saturates on this CPU: built for x86-vnni (x86_64 avx2,avx512f,avx512_vnni), "
                                    "run on x86_64 avx2 without VNNI")
    assert "rebuild it with --target x86-avx2" in row["reason"]
    assert row["target"] == "x86-vnni" and row["cpu_features"] == "x86_64 avx2"
    assert row["latency_ms_p50"] > 0  # still measured: the row says what it is and why it is not ok


@pytest.mark.parametrize("target, host", [
    ("x86-avx2", TARGETS["x86-avx2"]),  # 7-bit weights: safe where int8 saturates
    ("x86-vnni", TARGETS["x86-vnni"]),  # 8-bit weights where they run exactly
    ("x86-vnni", TARGETS["arm64-a76"]),
    ("x86-vnni", Target("old", "x86_64", ())),  # SSE-only x86 widens before multiplying
])
def test_files_that_fit_the_cpu_stay_ok(builds, target, host):
    row, = benchmark_artifact(builds[target], threads=1, timing=FAST, host=host)
    assert row["status"] == "ok" and row["reason"] is None, row["reason"]
    assert row["target"] == target and row["cpu_features"] == host.compact()


def test_rows_say_which_cpu_measured_them(builds):
    row, = benchmark_artifact(builds["x86-avx2"], threads=1, timing=FAST)
    assert row["cpu_features"] == host_target().compact()
