"""`edgecv bench` on edgecv-made and foreign ONNX files, and its errors for bad inputs (no tracebacks)."""
from __future__ import annotations

import json

import pytest
import torch

from edgecv.cli import main

FAST = ["--warmup", "1", "--min-runs", "3", "--min-time", "0"]


def _plain_export(model, path, shape, dynamic=False):
    """A file edgecv did not make: plain torch.onnx.export, its own input name, no sidecar."""
    kw = {"dynamic_axes": {"pixels": {0: "n"}}} if dynamic else {}
    torch.onnx.export(model, (torch.zeros(*shape),), str(path), dynamo=False, opset_version=17,
                      input_names=["pixels"], output_names=["scores"], **kw)
    return path


class NHWC(torch.nn.Module):
    """Takes NHWC input, as many mobile exports do."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x.permute(0, 3, 1, 2))


def test_foreign_onnx_with_data(teacher20, cifar_small, tmp_path, capsys):
    f = _plain_export(teacher20, tmp_path / "foreign.onnx", (1, 3, 32, 32), dynamic=True)
    out = tmp_path / "rows.json"
    rc = main(["bench", str(f), "--data", str(cifar_small), "--batch", "1,4", "--threads", "1",
               "--json", str(out), "--crop-pct", "1", *FAST])
    assert rc == 0, capsys.readouterr()
    data = json.loads(out.read_text())
    rows = data["rows"]
    assert [r["batch"] for r in rows] == [1, 4] and all(r["status"] == "ok" for r in rows)
    assert rows[0]["top1"] > 70 and rows[0]["top5"] > 95 and rows[0]["images"] == 40
    torch_params = sum(p.numel() for p in teacher20.parameters())
    assert abs(rows[0]["params"] - torch_params) < 0.05 * torch_params  # counted from the file (BN folded)
    assert data["environment"]["cpu"]
    printed = capsys.readouterr().out
    assert "| foreign | onnxruntime | fp32 | 1 | ok |" in printed


def test_foreign_nhwc_file_is_detected_and_scores_the_same(teacher20, cifar_small, tmp_path):
    f = _plain_export(NHWC(teacher20), tmp_path / "nhwc.onnx", (1, 32, 32, 3))
    j1, j2 = tmp_path / "a.json", tmp_path / "b.json"
    nchw = _plain_export(teacher20, tmp_path / "nchw.onnx", (1, 3, 32, 32))
    assert main(["bench", str(f), "--data", str(cifar_small), "--json", str(j1), *FAST]) == 0
    assert main(["bench", str(nchw), "--data", str(cifar_small), "--json", str(j2), *FAST]) == 0
    assert json.loads(j1.read_text())["rows"][0]["top1"] == json.loads(j2.read_text())["rows"][0]["top1"]


def test_class_map_reports_restricted_top1(onnx20, cifar_small, tmp_path):
    cmap = tmp_path / "map.txt"
    names = sorted(p.name for p in cifar_small.iterdir())
    cmap.write_text("# folder index\n" + "\n".join(f"{n} {i}" for i, n in enumerate(names)))
    out = tmp_path / "r.json"
    assert main(["bench", str(onnx20.path), "--data", str(cifar_small), "--class-map", str(cmap), "--json", str(out), *FAST]) == 0
    row = json.loads(out.read_text())["rows"][0]
    assert row["top1_restricted"] == row["top1"]  # identity map over all 10 outputs


def test_out_folder_gets_the_ledger(onnx20, tmp_path):
    assert main(["bench", str(onnx20.path), "--out", str(tmp_path / "ledger"), *FAST]) == 0
    assert {p.name for p in (tmp_path / "ledger").iterdir()} == {"results.json", "report.md"}  # no top-1: no plot


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr()
    assert "Traceback" not in err.out + err.err
    return (err.out + err.err).replace("\n", " ")


def test_bad_inputs_are_clear_errors(teacher20, cifar_small, tmp_path, capsys):
    assert "artifact not found" in _error(capsys, ["bench", str(tmp_path / "nope.onnx")])
    junk = tmp_path / "junk.onnx"
    junk.write_text("hello")
    assert "not a loadable ONNX model" in _error(capsys, ["bench", str(junk)])
    txt = tmp_path / "model.txt"
    txt.write_text("hello")
    assert "no backend reads '.txt'" in _error(capsys, ["bench", str(txt)])
    folder = _error(capsys, ["bench", str(tmp_path)])  # a folder, not a model file: one line, what to give
    assert "is a folder; give a model file" in folder and ".onnx (onnxruntime)" in folder and "Traceback" not in folder
    flat = _plain_export(torch.nn.Linear(16, 10), tmp_path / "flat.onnx", (1, 16))
    assert "4-D" in _error(capsys, ["bench", str(flat)])
    three = tmp_path / "three"
    for c in ("cat", "dog", "frog"):
        (three / c).mkdir(parents=True)
        for p in sorted((cifar_small / c).glob("*.png"))[:1]:
            (three / c / p.name).write_bytes(p.read_bytes())
    f = _plain_export(teacher20, tmp_path / "r20.onnx", (1, 3, 32, 32))
    msg = _error(capsys, ["bench", str(f), "--data", str(three), *FAST])
    assert "3 class folders" in msg and "10 outputs" in msg
    assert "--batch" in _error(capsys, ["bench", str(f), "--batch", "1,x"])


def test_bad_sizes_are_refused_before_anything_runs(tmp_path, capsys):
    """--threads 0/-1 at argparse level; a --batch that cannot fit in memory before any allocation."""
    import time

    from edgecv.models import create_model, save_model

    f = save_model(create_model("cifar_resnet20", num_classes=10), tmp_path / "m.pt")
    for bad in ("0", "-2"):
        with pytest.raises(SystemExit) as e:
            main(["bench", str(f), "--threads", bad])
        assert e.value.code == 2
        assert f"argument --threads: must be >= 1, got {int(bad)}" in capsys.readouterr().err
    t0 = time.perf_counter()
    msg = _error(capsys, ["bench", str(f), "--batch", f"1,{10**7}", *FAST])
    assert time.perf_counter() - t0 < 20  # refused up front, not after allocating 120 GB
    assert f"--batch {10**7}: a batch of {10**7} x 3x32x32 float32 images needs about" in msg
    assert "is available (" in msg and "; use --batch" in msg
