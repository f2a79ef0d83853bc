"""benchmark_artifact: every row has the ledger's keys and an honest status."""
from __future__ import annotations

import pytest
import torch

from edgecv.bench import EvalSet, Thresholds, TimingConfig, benchmark_artifact

FAST = TimingConfig(warmup=1, min_runs=3, min_time_s=0.0)
LEDGER_KEYS = {"name", "backend", "precision", "status", "top1", "top5", "agreement", "latency_ms_p50",
               "latency_ms_p90", "latency_ms_p99", "throughput_ips", "batch", "threads", "size_mb", "params", "macs"}
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@pytest.fixture(scope="module")
def data(cifar_small):
    return EvalSet.from_folder(cifar_small, 32, MEAN, STD, crop_pct=1.0, batch_size=16)


def test_ok_rows_for_each_batch(onnx20, teacher20, data):
    rows = benchmark_artifact(onnx20, data=data, batches=[1, 4], threads=1, reference_model=teacher20, timing=FAST)
    assert [r["batch"] for r in rows] == [1, 4]
    for r in rows:
        assert LEDGER_KEYS <= set(r), LEDGER_KEYS - set(r)
        assert r["status"] == "ok" and r["reason"] is None
        assert r["agreement"] == 100.0 and r["max_abs_diff"] < 1e-3
        assert r["top1"] == r["reference_top1"] and r["images"] == 40
        assert r["latency_ms_p50"] > 0 and r["runs"] >= 3 and r["threads"] == 1
        assert r["params"] == sum(p.numel() for p in teacher20.parameters()) and r["macs"] > 40e6
        assert r["size_mb"] > 1.0 and r["device"] == "CPUExecutionProvider"
    assert rows[1]["throughput_ips"] == pytest.approx(4000 / rows[1]["latency_ms_p50"], rel=1e-3)


def test_parity_on_random_inputs_without_data(onnx20, teacher20):
    (row,) = benchmark_artifact(onnx20, reference_model=teacher20, timing=FAST)
    assert row["parity_on"] == "random" and row["agreement"] >= 96 and row["max_abs_diff"] < 1e-3
    assert row["top1"] is None and row["top5"] is None and row["status"] == "ok"
    assert LEDGER_KEYS <= set(row)


def test_a_model_that_disagrees_with_its_source_is_inaccurate(onnx20, data):
    from edgecv.models import create_model

    torch.manual_seed(1)
    other = create_model("cifar_resnet20", num_classes=10).eval()  # untrained: a wrong "source"
    (row,) = benchmark_artifact(onnx20, data=data, reference_model=other, timing=FAST, thresholds=Thresholds(99.0, 1.0))
    assert row["status"] == "inaccurate" and "agreement" in row["reason"]
    assert row["latency_ms_p50"] > 0  # still timed: an inaccurate artifact's speed is still reported


def test_unloadable_artifact_is_export_failed_or_raises_when_strict(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_text("not a protobuf")
    (row,) = benchmark_artifact(bad, batches=[1], timing=FAST, extra={"size_mb": 0})
    assert row["status"] == "export_failed" and "not a loadable ONNX model" in row["reason"]
    with pytest.raises(ValueError, match="not a loadable ONNX model"):
        benchmark_artifact(bad, timing=FAST, strict=True)


def test_unavailable_backend_gives_skipped_rows_with_the_reason(tmp_path):
    from edgecv.backends import BACKENDS, Artifact, ArtifactMetadata

    class Missing:
        name, suffix, extra, companions = "missing_rt", ".mrt", "missing", ()

        def available(self):
            return False, "missing_rt not installed: pip install 'edgecv[missing]'"

    with BACKENDS.temporarily("missing_rt", Missing()):
        f = tmp_path / "m.mrt"
        f.write_bytes(b"x")
        rows = benchmark_artifact(Artifact(f, "missing_rt", ArtifactMetadata()), batches=[1, 8], timing=FAST)
        assert [r["status"] for r in rows] == ["skipped", "skipped"]
        assert "pip install 'edgecv[missing]'" in rows[0]["reason"]
    assert "missing_rt" not in BACKENDS


def test_fixed_batch_file_skips_other_batch_sizes(teacher20, data, tmp_path):
    from edgecv.backends import Artifact, BACKENDS

    path = tmp_path / "fixed.onnx"
    torch.onnx.export(teacher20, (torch.zeros(1, 3, 32, 32),), str(path), dynamo=False, opset_version=17)
    art = Artifact(path, "onnxruntime", BACKENDS.get("onnxruntime").inspect(path))
    rows = benchmark_artifact(art, data=data, batches=[1, 4], timing=FAST)
    assert rows[0]["status"] == "ok" and rows[0]["images"] == 40 and rows[0]["top1"] > 50
    assert rows[1]["status"] == "skipped" and "fixed batch of 1" in rows[1]["reason"]


def test_data_whose_classes_do_not_match_the_outputs_is_an_error(onnx20, cifar_small, tmp_path):
    import shutil

    few = tmp_path / "few"
    for cls in ("cat", "dog", "frog"):
        shutil.copytree(cifar_small / cls, few / cls)
    data3 = EvalSet.from_folder(few, 32, MEAN, STD, crop_pct=1.0)
    with pytest.raises(ValueError, match="3 class folders but the artifact .* has 10 outputs"):
        benchmark_artifact(onnx20, data=data3, timing=FAST)
    mapped = EvalSet.from_folder(few, 32, MEAN, STD, {"cat": 3, "dog": 5, "frog": 6}, crop_pct=1.0)
    (row,) = benchmark_artifact(onnx20, data=mapped, timing=FAST)
    assert row["status"] == "ok" and row["top1_restricted"] >= row["top1"]
    with pytest.raises(ValueError, match="no entry for class folder"):
        EvalSet.from_folder(few, 32, MEAN, STD, {"cat": 3}, crop_pct=1.0)
    out_of_range = EvalSet.from_folder(few, 32, MEAN, STD, {"cat": 3, "dog": 5, "frog": 60}, crop_pct=1.0)
    with pytest.raises(ValueError, match="out of range"):
        benchmark_artifact(onnx20, data=out_of_range, timing=FAST)


def test_integer_artifacts_are_judged_on_real_images_only():
    from edgecv.bench.harness import judge

    assert judge({"agreement": 80.0, "parity_on": "random"}, Thresholds(), integer=True)[0] == "ok"
    assert judge({"agreement": 80.0, "parity_on": "val"}, Thresholds(), integer=True)[0] == "inaccurate"
    assert judge({"agreement": 80.0, "parity_on": "random"}, Thresholds(), integer=False)[0] == "inaccurate"
    status, reason = judge({"top1": 85.0, "reference_top1": 90.0, "parity_on": "val", "agreement": 99.5}, Thresholds(99.0, 1.0))
    assert status == "inaccurate" and "5.00 points below" in reason


def test_rows_record_the_other_load_during_their_own_timing(onnx20):
    from edgecv.utils.timing import _machine_busy_s

    (row,) = benchmark_artifact(onnx20, batches=[1], threads=1, timing=TimingConfig(warmup=1, min_runs=3, min_time_s=0.2))
    if _machine_busy_s() is None:
        assert row["busy_other_pct"] is None
    else:
        assert 0.0 <= row["busy_other_pct"] <= 100.0
