"""The executorch backend: XNNPACK-delegated .pte in FP32 and PT2E INT8 judged on CIFAR-10 val, fixed and
dynamic batches, metadata inside the program, the runtime's thread pool, and clear errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from edgecv.backends import BACKENDS, Artifact
from tests.backends.conftest import check_int8_row, need_backend
from tests.bench.conftest import CIFAR_CLASSES

SAMPLE = torch.zeros(1, 3, 32, 32)


@pytest.fixture(scope="module")
def et():
    return need_backend("executorch")


@pytest.fixture(scope="module")
def int8(et, teacher20, cifar_calibration, tmp_path_factory):
    return et.build(teacher20, SAMPLE, "int8", cifar_calibration, tmp_path_factory.mktemp("et_int8"),
                    {"preprocess": {"class_names": CIFAR_CLASSES}})


@pytest.fixture(scope="module")
def small(et, tmp_path_factory):
    """A seeded CIFAR ResNet-8 with a dynamic batch up to 4 (small: lowering takes seconds, not minutes)."""
    from edgecv.models import create_model

    torch.manual_seed(0)
    model = create_model("cifar_resnet8", num_classes=10).eval()
    return model, et.build(model, SAMPLE, "fp32", None, tmp_path_factory.mktemp("et_small"), {"max_batch": 4})


def test_registered_with_its_extra():
    b = BACKENDS.get("executorch")
    assert (b.suffix, b.companions, b.extra, b.format) == (".pte", (), "executorch", "executorch")
    assert set(b.precisions) == {"fp32", "int8"} and b.precisions["int8"].needs_calibration


def test_int8_on_cifar_val_reaches_the_int8_minimum_or_is_marked(et, int8, teacher20, cifar_val):
    from edgecv.bench import TimingConfig, benchmark_artifact

    q = int8.metadata.extra["quantization"]
    assert q["quantizer"] == "XNNPACKQuantizer" and q["calibration_images"] == 256
    assert int8.metadata.extra["delegation"]["xnnpack_subgraphs"] >= 1
    row = benchmark_artifact(int8, data=cifar_val, threads=2, batches=[1, 8], reference_model=teacher20,
                             timing=TimingConfig(warmup=1, min_runs=3, min_time_s=0))
    check_int8_row(row[0])
    assert row[1]["status"] == "skipped" and "fixed batch of 1" in row[1]["reason"]  # what apps run: batch 1


def test_the_program_describes_itself(et, int8):
    seen = et.inspect(int8.path)  # from the .pte alone: edgecv's metadata is a constant method in it
    assert seen.precision == "int8" and seen.source_model == "cifar_resnet20" and seen.input_shape == [1, 3, 32, 32]
    assert seen.mean == [0.485, 0.456, 0.406] and seen.class_names == CIFAR_CLASSES
    assert seen.extra["outputs"] == [[1, 10]] and seen.extra["params"] == pytest.approx(269_722, rel=0.01)


def test_fixed_batch_runner_takes_any_batch(et, int8):
    x = np.random.default_rng(0).standard_normal((5, 3, 32, 32)).astype(np.float32)
    run = et.load(int8, threads=1)
    assert run.info["planned_batch"] == 1 and not run.info["dynamic_batch"]
    assert np.allclose(run(x), np.concatenate([run(x[i : i + 1]) for i in range(5)]), atol=1e-6)


def test_dynamic_batch_up_to_max_batch(et, small):
    model, art = small
    assert art.metadata.input_shape == ["batch", 3, 32, 32] and art.metadata.extra["max_batch"] == 4
    run = et.load(art, threads=1)
    assert run.info["dynamic_batch"] and 2 <= run.info["planned_batch"] <= 4
    x = np.random.default_rng(1).standard_normal((11, 3, 32, 32)).astype(np.float32)  # split into planned chunks
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    assert np.abs(run(x) - ref).max() < 1e-4


def test_thread_pool_follows_each_runner(et, small):
    from edgecv.backends.executorch.runner import set_threads

    _, art = small
    one, two = et.load(art, threads=1), et.load(art, threads=2)
    assert (one.info["threads"], two.info["threads"]) == (1, 2)
    x = np.zeros((1, 3, 32, 32), np.float32)
    one(x)
    assert set_threads(None) == 1  # the call set the process-wide pool back to its runner's count
    two(x)
    assert set_threads(None) == 2


RESIZE_SCRIPT = """
import sys, threading, numpy as np
from edgecv.backends import BACKENDS, Artifact
from edgecv.backends.executorch.runner import set_threads
b, art = BACKENDS.get("executorch"), Artifact.from_path(sys.argv[1])
x = np.random.default_rng(0).standard_normal((3, 3, 32, 32)).astype(np.float32)
first = b.load(art)  # on the pool as it is
ref = first(x)
b.load(art, 1 if set_threads(None) != 1 else 2)  # resizes the pool the first runner's method took
def calls():
    for _ in range(20):
        assert np.allclose(first(x), ref, atol=1e-5)
worker = threading.Thread(target=calls)
worker.start()
worker.join()
print("ok")
"""


def test_runners_with_other_thread_counts_survive_each_others_pool(et, small):
    """Resizing the pool frees the one methods loaded earlier took: without reloading them, their next
    call crashed the process (segfault, 3 runs of 3). In a child process, so a crash fails only this test."""
    import subprocess
    import sys

    _, art = small
    res = subprocess.run([sys.executable, "-c", RESIZE_SCRIPT, str(art.path)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0 and res.stdout.strip().endswith("ok"), (res.returncode, res.stderr[-2000:])


def test_errors_are_clear(et, tmp_path):
    with pytest.raises(ValueError, match="max_batch: 1 is not a batch size >= 2"):
        et.build(torch.nn.Conv2d(3, 3, 1), SAMPLE, "fp32", None, tmp_path, {"max_batch": 1})
    bad = tmp_path / "junk.pte"
    bad.write_bytes(b"not a program")
    with pytest.raises(ValueError, match="junk.pte is not a loadable ExecuTorch program"):
        et.inspect(bad)
    with pytest.raises(FileNotFoundError, match="ExecuTorch program not found"):
        et.load(Artifact(tmp_path / "gone.pte", "executorch", Artifact.from_path(bad).metadata))


def test_a_runtime_that_does_not_load_is_unavailable_with_the_extra(et, monkeypatch):
    """What available() says when the compiled runtime cannot load (e.g. built for another torch)."""
    from edgecv.backends.executorch import runner

    def broken():
        raise ImportError("undefined symbol: _ZN3c104impl3cow11cow_deleterEPv")

    monkeypatch.setattr(runner, "runtime", broken)
    ok, why = BACKENDS.get("executorch").available()
    assert not ok and "does not load (undefined symbol" in why and "pip install 'edgecv[executorch]'" in why
