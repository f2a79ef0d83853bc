"""The models in benchmarks/models/ score on the CIFAR-10 val set what benchmarks/RESULTS.md says they do.

The RESULTS.md table comes from benchmarks/ship_models.py; a shipped file that drifts from it (rebuilt, replaced,
or read differently by a new runtime) fails here. The INT8 files are built to be accurate on every CPU class
(TFLite's XNNPACK widens to 16 bits; the ONNX Runtime one has 7-bit weights), so 0.1 pt holds on any machine.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import need_shared

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "benchmarks" / "models"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
TOLERANCE_PT = 0.1


def shipped_rows() -> list[dict]:
    """The rows of RESULTS.md's "Shipped models" table marked shipped."""
    text = RESULTS.read_text()
    section = text.split("## Shipped models", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 11 and cells[-1] == "yes":
            rows.append({"file": cells[0], "runtime": cells[1], "top1": float(cells[4]), "mb": float(cells[9])})
    return rows


def test_the_table_names_shipped_files_that_exist_within_the_size_budget():
    rows = shipped_rows()
    assert {r["runtime"] for r in rows} >= {"tflite", "onnxruntime"}
    for r in rows:
        assert (MODELS / r["file"]).is_file(), r["file"]
        meta = json.loads((MODELS / (r["file"] + ".edgecv.json")).read_text())
        assert meta["backend"] == r["runtime"] and len(meta["class_names"]) == 10
    on_disk = sum(p.stat().st_size for p in MODELS.iterdir() if p.is_file()) / 1e6
    assert on_disk <= 10.0


@pytest.mark.parametrize("row", shipped_rows(), ids=lambda r: r["file"])
def test_shipped_model_scores_what_results_md_says(row, monkeypatch):
    from edgecv.app import benchmark
    from edgecv.utils.timing import TimingConfig

    val = need_shared("cifar10", "val")
    need_shared("teachers")
    monkeypatch.chdir(ROOT)  # the sidecar names its PyTorch source as seen from the repository root
    got = benchmark(MODELS / row["file"], data=val, threads=2,
                    timing=TimingConfig(warmup=1, min_runs=3, min_time_s=0.05)).rows[0]
    assert got["status"] == "ok", got.get("reason")
    assert abs(got["top1"] - row["top1"]) <= TOLERANCE_PT, (got["top1"], row["top1"])
    assert got["agreement"] >= 98.5  # with the pretrained source it was quantized from


def test_a_shipped_model_names_what_it_sees():
    from PIL import Image

    from edgecv.app import Predictor, open_artifact

    images = sorted(need_shared("cifar10", "val", "ship").glob("*.png"))[:20]
    predictor = Predictor(open_artifact(MODELS / shipped_rows()[0]["file"]))
    labels = [p.labels[0] for p in predictor.predict_batch([Image.open(i).convert("RGB") for i in images], k=1)]
    assert set(labels) <= set(predictor.class_names(10)) and labels.count("ship") >= 16, labels
