"""The run's printed table fits 100 columns with one line per row; notes, the CPU and what to deploy go under it."""
from __future__ import annotations

from rich.console import Console

from edgecv.bench.deploy import deploy_choices
from edgecv.bench.ledger import narrow_columns, narrow_rows, rich_table
from edgecv.report import under_table

REASON = ("saturates on this CPU: built for host (x86_64 avx2,avx512f,avx512_vnni,avx512_bf16), run on x86_64 avx2 "
          "without VNNI, whose u8 x s8 kernels overflow int16 with the weights of 8 of its 10 int8 layers")


def quickstart_rows() -> list[dict]:
    rows = []
    for role, name, macs, params in (("teacher", "cifar_resnet32", 17.2e6, 464e3), ("student", "cifar_resnet8", 3.1e6, 75e3),
                                     ("pruned", "cifar_resnet8", 1.3e6, 42e3)):
        for backend, precision in (("torch", "fp32"), ("onnxruntime", "fp32"), ("tflite", "fp32"),
                                   *((("onnxruntime", "int8"), ("tflite", "int8")) if role == "pruned" else ())):
            rows.append({"name": name, "role": role, "backend": backend, "precision": precision, "status": "ok",
                         "reason": None, "top1": 96.11, "agreement": None if backend == "torch" else 99.72,
                         "latency_ms_p50": 1.873 if backend == "torch" else 0.262, "speedup_vs_teacher": 41.26,
                         "speedup_vs_teacher_torch": 651.18, "size_mb": 1.93, "params": params, "macs": macs,
                         "busy_other_pct": 2.0, "batch": 1, "threads": 2, "target": "host",
                         "cpu_features": "x86_64 avx2"})
    rows[-2].update(status="inaccurate", reason=REASON)
    rows[3]["busy_other_pct"] = 80.0
    return rows


def test_the_table_fits_100_columns_and_notes_go_under_it():
    rows = quickstart_rows()
    shown = narrow_rows(rows)
    con = Console(width=100, record=True, force_terminal=False)
    con.print(rich_table(shown, "quickstart: 10 classes, 360 val images, batch 1", narrow_columns(shown)))
    env = {"cpu": "AMD EPYC", "cpu_arch": "x86_64", "cpu_features": ["avx2"]}
    for line in under_table(rows, env, deploy_choices(rows)):
        con.print(line, markup=False, highlight=False)
    text = con.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    table = [line for line in lines if line.startswith("│")]
    assert len(table) == len(rows)  # one line per row: nothing wrapped
    assert "…" not in text  # nothing cut short either
    assert all("saturates on this CPU" not in line for line in table)
    assert f"note: pruned onnxruntime int8: {REASON}" in " ".join(text.split())
    assert any(line.startswith("busy: other processes used over a quarter of the cores while 1 row(s)") for line in lines)
    assert "CPU: AMD EPYC (x86_64 avx2); artifacts built for target host" in lines
    assert any(line.startswith("Deploy (per backend") for line in lines)
    header = " ".join(lines[:6])
    assert "model" in header and "backend" in header and "name" not in header.split()


def test_rows_without_roles_show_their_names():
    shown = narrow_rows([{"name": "my-model", "backend": "onnxruntime", "precision": "int8"}])
    assert shown[0]["model"] == "my-model"
