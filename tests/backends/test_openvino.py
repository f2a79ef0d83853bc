"""The openvino backend: FP32 IR from ONNX and from torch.export, FP16 weights, NNCF INT8 (plain and
accuracy-controlled) judged on CIFAR-10 val, the runner's explicit CPU settings, and the .bin that
travels with every .xml."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from edgecv.backends import BACKENDS, Artifact
from tests.backends.conftest import check_int8_row, need_backend
from tests.conftest import need_shared

SAMPLE = torch.zeros(1, 3, 32, 32)


@pytest.fixture(scope="module")
def ov():
    return need_backend("openvino")


@pytest.fixture(scope="module")
def built(ov, teacher20, cifar_calibration, tmp_path_factory):
    """The ResNet-20 teacher: FP32 through both converters, FP16 and INT8 from the ONNX one."""
    out = tmp_path_factory.mktemp("openvino")
    fp32 = ov.build(teacher20, SAMPLE, "fp32", None, out / "onnx")
    return {
        "fp32": fp32,
        "fp32-torch": ov.build(teacher20, SAMPLE, "fp32", None, out / "torch", {"convert_from": "torch"}),
        "fp16": ov.build(teacher20, SAMPLE, "fp16", None, out / "fp16", {"source": fp32}),
        "int8": ov.build(teacher20, SAMPLE, "int8", cifar_calibration, out / "int8", {"source": fp32}),
    }


@pytest.fixture(scope="module")
def images():
    from edgecv.data import CalibrationSource
    from tests.backends.conftest import MEAN, STD

    return np.concatenate(CalibrationSource.from_folder(need_shared("cifar10", "val"), 32, MEAN, STD, size=200, seed=1).batches())


def test_registered_with_its_extra_and_weights_file():
    b = BACKENDS.get("openvino")
    assert (b.suffix, b.companions, b.extra, b.format) == (".xml", (".bin",), "openvino", "openvino")
    assert set(b.precisions) == {"fp32", "fp16", "int8"}
    assert b.precisions["int8"].needs_calibration and b.precisions["int8"].integer


def test_both_converters_match_pytorch_and_the_file_describes_itself(ov, built, teacher20, images):
    with torch.no_grad():
        ref = teacher20(torch.from_numpy(images)).numpy()
    for key, via in (("fp32", "onnx"), ("fp32-torch", "torch")):
        art = built[key]
        assert art.files() == [art.path, art.path.with_suffix(".bin")] and all(f.is_file() for f in art.files())
        out = ov.load(art, threads=1)(images)
        assert np.abs(out - ref).max() < 1e-3 and (out.argmax(1) == ref.argmax(1)).all(), key
        seen = ov.inspect(art.path)  # from the IR alone: its rt_info carries edgecv's metadata
        assert seen.source_model == "cifar_resnet20" and seen.precision == "fp32" and seen.input_shape == ["batch", 3, 32, 32]
        assert seen.extra["converted_from"] == via and seen.tool_versions["openvino"]
        assert seen.extra["params"] == pytest.approx(269_722, rel=0.01)


def test_fp16_stores_half_the_weights_and_agrees(ov, built, teacher20, images):
    fp32, fp16 = built["fp32"], built["fp16"]
    assert fp16.path.with_suffix(".bin").stat().st_size < 0.6 * fp32.path.with_suffix(".bin").stat().st_size
    assert ov.inspect(fp16.path).precision == "fp16"
    with torch.no_grad():
        ref = teacher20(torch.from_numpy(images)).numpy()
    out = ov.load(fp16, threads=1)(images)
    assert (out.argmax(1) == ref.argmax(1)).mean() >= 0.99 and np.abs(out - ref).max() < 0.1


def test_int8_on_cifar_val_reaches_the_int8_minimum_or_is_marked(ov, built, teacher20, cifar_val):
    from edgecv.bench import TimingConfig, benchmark_artifact

    art = built["int8"]
    assert ov.inspect(art.path).precision == "int8"  # FakeQuantize nodes in the IR
    q = art.metadata.extra["quantization"]
    assert q["tool"] == "nncf" and q["calibration_images"] == 256 and q["preset"] == "performance"
    row = benchmark_artifact(art, data=cifar_val, threads=2, reference_model=teacher20,
                             timing=TimingConfig(warmup=1, min_runs=3, min_time_s=0))[0]
    check_int8_row(row)
    assert row["size_mb"] < 0.5 * benchmark_artifact(built["fp32"], threads=1, timing=TimingConfig(0, 1, 0))[0]["size_mb"]


def test_runner_compiles_for_the_cpu_with_explicit_settings(ov, built):
    info = ov.load(built["fp32"], threads=1).info
    assert info["device"] == "CPU" and info["threads"] == 1 and info["streams"] == 1
    assert info["inference_precision"] == "f32" and info["pinned"] is False
    assert ov.load(built["fp32"], threads=2).info["threads"] == 2


def test_accuracy_controlled_int8_records_what_it_reached(ov, built, cifar_calibration, tmp_path):
    art = ov.build(None, SAMPLE, "int8", cifar_calibration, tmp_path,
                   {"source": built["fp32"], "min_agreement": 99.0, "accuracy_images": 200})
    q = art.metadata.extra["quantization"]
    assert q["budget_metric"] == "agreement" and q["max_drop"] == pytest.approx(1.0) and q["accuracy_images"] == 200
    assert q["fp32_metric"] == 100.0 and q["met"] == (q["drop"] <= 1.0) and q["met"]
    assert art.precision == "int8" and art.path.with_suffix(".bin").is_file()


def test_budget_errors_are_clear(ov, built, cifar_calibration, tmp_path):
    with pytest.raises(ValueError, match="max_drop or min_agreement, not both"):
        ov.build(None, SAMPLE, "int8", cifar_calibration, tmp_path, {"source": built["fp32"], "max_drop": 1, "min_agreement": 99})
    with pytest.raises(ValueError, match="convert_from: 'tf' is not one of onnx, torch"):
        ov.build(torch.nn.Identity(), SAMPLE, "fp32", None, tmp_path, {"convert_from": "tf"})
    with pytest.raises(ValueError, match="preset: 'fast'"):
        ov.build(None, SAMPLE, "int8", cifar_calibration, tmp_path, {"source": built["fp32"], "preset": "fast"})


def test_max_drop_needs_labels(ov, built, tmp_path):
    """A flat folder of images has no labels: top-1 cannot be judged, agreement can."""
    import shutil

    from edgecv.data import CalibrationSource
    from tests.backends.conftest import MEAN, STD

    for f in sorted((need_shared("cifar10", "train") / "cat").glob("*.png"))[:40]:
        shutil.copy(f, tmp_path / f.name)
    flat = CalibrationSource.from_folder(tmp_path, 32, MEAN, STD, size=16)
    with pytest.raises(ValueError, match="max_drop needs labelled images"):
        ov.build(None, SAMPLE, "int8", flat, tmp_path / "out", {"source": built["fp32"], "max_drop": 1.0})


def test_an_ir_without_its_weights_is_one_clear_error(ov, built, tmp_path):
    import shutil

    lone = tmp_path / "lone.xml"
    shutil.copy(built["fp32"].path, lone)
    with pytest.raises(FileNotFoundError, match="its weights lone.bin are missing"):
        ov.load(Artifact(lone, "openvino", built["fp32"].metadata))
    (tmp_path / "junk.xml").write_text("<net>")
    (tmp_path / "junk.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="junk.xml is not a readable OpenVINO IR"):
        ov.inspect(tmp_path / "junk.xml")


def test_cli_export_moves_the_weights_with_the_graph(ov, tmp_path, capsys):
    from edgecv.cli import main

    out = tmp_path / "sub" / "r8.xml"
    rc = main(["export", "--model", "cifar_resnet8", "--to", "openvino", "-o", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert sorted(p.name for p in out.parent.iterdir()) == ["r8.bin", "r8.xml", "r8.xml.edgecv.json"]  # nothing left over
    assert "agreement 100.0%" in printed.replace("\n", " ")
    art = Artifact.from_path(out)
    assert art.backend == "openvino" and art.files()[1] == tmp_path / "sub" / "r8.bin"
    from edgecv.bench.harness import size_mb

    assert f"({size_mb(*art.files()):.2f} MB" in printed  # the size counts the weights
