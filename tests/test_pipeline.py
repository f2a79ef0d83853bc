"""The main job end to end: the quickstart recipe at a reduced size, through the CLI and the API."""
import json
from pathlib import Path

import pytest

import edgecv
from edgecv.cli import main

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "recipes" / "quickstart.yaml"
SMALL = ["stages.0.epochs=1", "stages.1.epochs=2", "data.max_train=100", "data.max_val=50"]


def _args(out, extra=()):
    return ["run", str(QUICKSTART), "--out", str(out), *[a for s in [*SMALL, *extra] for a in ("--set", s)]]


def test_quickstart_end_to_end(tmp_path, capsys):
    assert main(_args(tmp_path / "run")) == 0
    run = tmp_path / "run"
    doc = json.loads((run / "results.json").read_text())
    rows = {r["role"]: r for r in doc["rows"]}
    assert set(rows) == {"teacher", "student"}
    for row in rows.values():
        for key in ("name", "role", "params", "macs", "top1", "top5", "latency_ms_p50"):
            assert row[key] is not None, key
    assert rows["teacher"]["name"] == "cifar_resnet20" and rows["student"]["params"] < rows["teacher"]["params"] * 3
    assert doc["seed"] == 0 and doc["recipe"]["name"] == "quickstart" and doc["environment"]
    assert [s["type"] for s in doc["stages"]] == ["train", "distill", "evaluate"]
    report = (run / "report.md").read_text()
    assert "| name | role | backend |" in report and "cifar_resnet20" in report
    assert (run / "stages" / "2_evaluate" / "confusion_student.png").is_file()
    assert (run / "stages" / "2_evaluate" / "confusion_student.csv").read_text().startswith("true\\pred,0,1,2")
    assert (run / "stages" / "1_distill" / "metrics.csv").is_file()
    printed = capsys.readouterr().out
    assert "top-1 %" in printed and "report:" in printed
    # the student checkpoint is an edgecv model file that rebuilds itself
    model, meta = edgecv.load_model(run / "stages" / "2_evaluate" / "models" / "student.pt")
    assert meta["class_names"] == [str(i) for i in range(10)]


def test_resume_after_interrupted_run(tmp_path, monkeypatch):
    import edgecv.train.loop as loop

    real_fit = loop.fit
    calls = []

    def fit_killed_in_distill(*a, **k):
        calls.append(k.get("desc"))
        if k.get("desc") == "distill" and len(calls) == 2:
            def die(epoch, row):
                raise KeyboardInterrupt
            k["on_epoch_end"] = die
        return real_fit(*a, **k)

    monkeypatch.setattr(loop, "fit", fit_killed_in_distill)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        edgecv.run(QUICKSTART, out_dir=out, overrides=SMALL)
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["type"] for r in manifest["records"]] == ["train"]
    assert (out / "stages" / "1_distill" / "last.pt").is_file()
    ctx = edgecv.run(QUICKSTART, out_dir=out, overrides=SMALL, resume=True)
    assert calls == ["train teacher", "distill", "distill"]  # train was not repeated
    assert [r["type"] for r in ctx.records] == ["train", "distill", "evaluate"]
    assert ctx.records[1]["epochs_run"] == 2
    assert json.loads((out / "results.json").read_text())["rows"]


def test_not_empty_out_dir_is_refused(tmp_path):
    (tmp_path / "keep.txt").write_text("precious")
    assert main(_args(tmp_path)) == 2
    assert (tmp_path / "keep.txt").read_text() == "precious"


def test_default_out_dir_is_not_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from edgecv.pipeline import default_out_dir

    assert not str(default_out_dir("x")).startswith(str(tmp_path))
