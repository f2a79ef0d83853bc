"""The emulated runner's protocol and its failures, with the host's Python standing in for QEMU (so these run
on any machine): logits equal the host runner's, batches are remembered, failures are one line."""
from __future__ import annotations

import numpy as np
import pytest

from edgecv.backends import BACKENDS, Artifact
from edgecv.bench.emulate import EmulatedRunner, EmulationError
from tests.bench.emulate.conftest import fake_env


def test_worker_returns_the_host_runtimes_logits(tiny_onnx, host_python_env):
    host = BACKENDS.get("onnxruntime").load(tiny_onnx, 1)
    x = np.random.default_rng(0).standard_normal((5, 3, 8, 8)).astype(np.float32)
    seen = []
    with EmulatedRunner(tiny_onnx, "arm64", env=host_python_env, on_images=seen.append) as run:
        assert run.info["emulated"] == "arm64-a76" and run.info["runtime"] == "onnxruntime"
        np.testing.assert_array_equal(run(x), host(x))
        np.testing.assert_array_equal(run(x[:2]), host(x[:2]))  # any batch size
        run(x)  # remembered: not sent again
    assert seen == [5, 2]


def test_a_file_the_runtime_refuses_is_one_line(tmp_path, host_python_env, tiny_onnx):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx file")
    art = Artifact(bad, "onnxruntime", tiny_onnx.metadata)
    with pytest.raises(EmulationError) as e:
        EmulatedRunner(art, "arm64-a53", env=host_python_env)
    msg = str(e.value)
    assert "\n" not in msg and "broken.onnx" in msg and "arm64-a53" in msg


def test_an_emulator_crash_is_one_line_that_names_the_signal(tmp_path, tiny_onnx):
    env = fake_env(tmp_path, 'echo "qemu: uncaught target signal 11 (Segmentation fault)" >&2\nkill -SEGV $$')
    with pytest.raises(EmulationError) as e:
        EmulatedRunner(tiny_onnx, "arm64", env=env)
    msg = str(e.value)
    assert "\n" not in msg and "SIGSEGV" in msg and "Segmentation fault" in msg and str(env.qemu) in msg


def test_only_onnx_and_tflite_artifacts_run_emulated(tmp_path, host_python_env, tiny_onnx):
    art = Artifact(tmp_path / "model.pt", "torch", tiny_onnx.metadata)
    with pytest.raises(ValueError, match="emulation runs onnxruntime and tflite artifacts"):
        EmulatedRunner(art, "arm64", env=host_python_env)


def test_emulated_row_has_no_latency_and_compares_with_the_host(tiny_onnx, host_python_env):
    """The harness's accuracy path with the emulated runner: parity on random images without --data, the host
    comparison on the same images, and no timing fields."""
    from edgecv.bench.emulate import EmulatedEval, benchmark_emulated

    host = BACKENDS.get("onnxruntime").load(tiny_onnx, 1)
    row = benchmark_emulated(tiny_onnx, "arm64-i8mm", EmulatedEval(host_runner=host, strict=True), env=host_python_env)
    assert row["emulated"] == "arm64-i8mm" and row["status"] == "ok"
    assert row["latency_ms_p50"] is None and row["throughput_ips"] is None
    assert row["same_as_host"] == 100.0 and row["differ_from_host"] == 0 and row["host_max_abs_diff"] == 0.0
    assert row["images"] == 32  # the random images parity is measured on without labelled data


@pytest.mark.parametrize("cls, features, said", [
    ("arm64-a53", ["fp", "asimd", "asimddp"], "has asimddp"),  # a QEMU that ignored -cpu cortex-a53
    ("arm64-i8mm", ["fp", "asimd", "asimddp"], "lacks i8mm"),
    ("x86-avx2", ["sse2", "avx2", "fma3", "avx512f", "avx512vnni"], "has avx512f, avx512vnni"),
])
def test_an_emulated_cpu_without_its_class_features_is_refused(cls, features, said):
    from edgecv.bench.emulate import target

    runner = EmulatedRunner.__new__(EmulatedRunner)  # only the check: no worker
    runner.target = target(cls)
    with pytest.raises(EmulationError, match=said) as e:
        runner._check_cpu({"features": features})
    assert "\n" not in str(e.value) and target(cls).qemu_cpu in str(e.value)
    runner.target = target("arm64-a76")
    runner._check_cpu({"features": ["fp", "asimd", "asimddp"]})  # the right features pass
