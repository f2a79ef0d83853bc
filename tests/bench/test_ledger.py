"""The ledger: markdown table, Pareto front and plot, atomic results folder."""
from __future__ import annotations

import json

from edgecv.bench.ledger import markdown_table, pareto_front, pareto_plot, pareto_points, write_ledger

ROWS = [
    {"name": "big", "backend": "torch", "precision": "fp32", "batch": 1, "status": "ok", "top1": 93.0,
     "latency_ms_p50": 10.0, "size_mb": 3.4, "params": 850000, "macs": 125000000, "path": "a"},
    {"name": "big", "backend": "onnxruntime", "precision": "fp32", "batch": 1, "status": "ok", "top1": 93.0,
     "agreement": 100.0, "latency_ms_p50": 2.0, "path": "b"},
    {"name": "big", "backend": "onnxruntime", "precision": "fp32", "batch": 8, "status": "ok", "top1": 93.0,
     "agreement": 100.0, "latency_ms_p50": 9.0, "path": "b"},
    {"name": "small", "backend": "onnxruntime", "precision": "fp32", "batch": 1, "status": "ok", "top1": 90.0,
     "latency_ms_p50": 0.5, "path": "c"},
    {"name": "slow_bad", "backend": "onnxruntime", "precision": "int8", "batch": 1, "status": "inaccurate",
     "top1": 80.0, "latency_ms_p50": 3.0, "path": "d", "reason": "agreement 80% < 99%"},
    {"name": "broken", "backend": "tensorrt", "precision": "fp16", "batch": 1, "status": "skipped",
     "reason": "tensorrt not installed: pip install 'edgecv[tensorrt]'"},
]


def test_markdown_table_has_every_row_and_marks_missing_values():
    md = markdown_table(ROWS)
    lines = md.strip().splitlines()
    assert len(lines) == 2 + len(ROWS)
    assert "top-1 %" in lines[0] and "p50 ms" in lines[0] and "note" in lines[0]
    assert "| broken | tensorrt | fp16 | 1 | skipped | - |" in md
    assert "| ref |" in lines[2]  # the torch row is the parity reference
    assert "0.850" in lines[2] and "125.0" in lines[2]  # params and MACs in millions


def test_pareto_front_keeps_only_undominated_artifacts():
    pts = pareto_points(ROWS)
    assert len(pts) == 4  # one point per artifact (batch 8 row folded into its batch 1 row)
    front = {p["name"] + p["backend"] for p in pareto_front(pts)}
    assert front == {"smallonnxruntime", "bigonnxruntime"}


def test_pareto_plot_and_no_points(tmp_path):
    assert pareto_plot(ROWS, tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    assert pareto_plot([ROWS[-1]], tmp_path / "none.png") is None


def test_write_ledger_creates_the_folder_atomically(tmp_path):
    env = {"cpu": "test cpu", "libraries": {"numpy": "x"}}
    files = write_ledger(tmp_path / "out", ROWS, env, title="t")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["pareto.png", "report.md", "results.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left behind
    data = json.loads(files["results"].read_text())
    assert data["environment"]["cpu"] == "test cpu" and len(data["rows"]) == len(ROWS)
    report = files["report"].read_text()
    assert "pareto.png" in report and "test cpu" in report
    write_ledger(tmp_path / "out", ROWS[:1], env)  # an existing folder: files are replaced
    assert len(json.loads(files["results"].read_text())["rows"]) == 1


def test_rows_timed_on_a_busy_machine_are_flagged(tmp_path):
    from edgecv.bench.ledger import busy_rows, report_markdown, rich_table

    rows = [{**ROWS[0], "busy_other_pct": 97.0}, {**ROWS[1], "busy_other_pct": 3.0}, {**ROWS[3], "busy_other_pct": None}]
    assert [r["backend"] for r in busy_rows(rows)] == ["torch"]
    md = report_markdown(rows, None, "t", None)
    head, first = md.splitlines()[2], md.splitlines()[4]
    assert "other load %" in head and "| 97 busy |" in first and "| 3 |" in md
    warning = next(ln for ln in md.splitlines() if ln.startswith("**Busy machine**"))
    assert "big torch fp32 batch 1 (97 %)" in warning and "onnxruntime" not in warning
    quiet = report_markdown([{**r, "busy_other_pct": 3.0} for r in ROWS[:2]], None, "t", None)
    assert "Busy machine" not in quiet and "| 3 |" in quiet
    from rich.console import Console

    con = Console(width=400, record=True)
    con.print(rich_table(rows + [ROWS[-1]]))
    text = con.export_text()
    assert "97 busy" in text and "pip install 'edgecv[tensorrt]'" in text  # notes are not read as markup
