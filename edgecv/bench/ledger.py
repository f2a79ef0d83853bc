"""The results ledger: results.json (rows + environment), report.md (the same as a table), pareto.png.

`markdown_table(rows)` and `pareto_plot(rows, path)` are reusable by any report.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

from ..backends import REFERENCE_BACKEND
from ..utils import tables
from ..utils.io import write_json, write_text

# (row key, column title, format); a column is shown only if some row has a value for it
COLUMNS: list[tuple[str, str, str]] = [
    ("name", "name", "{}"), ("role", "role", "{}"), ("backend", "backend", "{}"), ("precision", "precision", "{}"),
    ("emulated", "emulated", "{}"),  # the CPU class an emulated row ran as (no latency: see edgecv.bench.emulate)
    ("batch", "batch", "{}"), ("status", "status", "{}"), ("top1", "top-1 %", "{:.2f}"),
    ("top5", "top-5 %", "{:.2f}"), ("top1_restricted", "top-1 restricted %", "{:.2f}"),
    ("agreement", "agree %", "{:.2f}"), ("same_as_host", "same as host %", "{:.2f}"), ("max_abs_diff", "max |diff|", "{:.2e}"),
    ("latency_ms_p50", "p50 ms", "{:.3f}"), ("latency_ms_p90", "p90 ms", "{:.3f}"),
    ("latency_ms_p99", "p99 ms", "{:.3f}"),
    # GPU rows (CUDA events, as trtexec's GPU compute / H2D / D2H); absent from CPU-only ledgers
    ("latency_ms_compute_p50", "compute p50 ms", "{:.3f}"), ("h2d_ms_p50", "H2D ms", "{:.3f}"), ("d2h_ms_p50", "D2H ms", "{:.3f}"),
    ("throughput_ips", "img/s", "{:.1f}"),
    ("speedup_vs_teacher", "x teacher", "{:.2f}"), ("speedup_vs_teacher_torch", "x torch teacher", "{:.2f}"),
    ("size_mb", "size MB", "{:.2f}"), ("params", "params M", "{:.3f}"), ("macs", "MACs M", "{:.1f}"),
    ("threads", "threads", "{}"), ("busy_other_pct", "other load %", "{:.0f}"), ("reason", "note", "{}"),
]
# The run summary a person reads first: what each artifact is, how accurate, how fast, how big.
SUMMARY_KEYS = ("name", "role", "backend", "precision", "emulated", "batch", "status", "top1", "agreement", "same_as_host",
                "latency_ms_p50",
                "speedup_vs_teacher", "speedup_vs_teacher_torch", "size_mb", "params", "macs", "busy_other_pct", "reason")
# The run's printed table: what fits 100 terminal columns; each row's note goes under it (row_notes).
NARROW_COLUMNS: list[tuple[str, str, str]] = [
    ("model", "model", "{}"), ("backend", "backend", "{}"), ("precision", "prec", "{}"), ("batch", "batch", "{}"),
    ("status", "status", "{}"), ("top1", "top-1\n%", "{:.2f}"), ("agreement", "agree\n%", "{:.2f}"),
    ("latency_ms_p50", "p50\nms", "{:.3f}"), ("speedup_vs_teacher", "x\nteacher", "{:.2f}"), ("size_mb", "size\nMB", "{:.2f}"),
    ("macs", "MACs\nM", "{:.1f}"),
]
# The same for emulated rows (accuracy only): the CPU class each ran as, and how many images match the host's run.
EMULATED_COLUMNS: list[tuple[str, str, str]] = [
    ("model", "model", "{}"), ("backend", "backend", "{}"), ("precision", "prec", "{}"), ("emulated", "emulated", "{}"),
    ("status", "status", "{}"), ("top1", "top-1\n%", "{:.2f}"), ("agreement", "agree\n%", "{:.2f}"),
    ("same_as_host", "same as\nhost %", "{:.2f}"),
]
BUSY_PCT = 25.0  # other processes using more than this share of the cores during a row's timing: flagged
_MILLIONS = {"params", "macs"}


def cell(row: dict, key: str, fmt: str) -> str:
    v = row.get(key)
    if v is None or v == "":
        return "-" if key != "agreement" or row.get("backend") != REFERENCE_BACKEND else "ref"
    if key in _MILLIONS:
        v = v / 1e6
    try:
        text = fmt.format(v)
    except (ValueError, TypeError):
        return str(v)
    return f"{text} busy" if key == "busy_other_pct" and v > BUSY_PCT else text


def add_speedups(rows: Sequence[dict], reference_role: str = "teacher") -> None:
    """Give each timed row two speed-ups over the FP32 `reference_role` at the same batch: on the
    same runtime (`speedup_vs_teacher`) and in eager PyTorch (`speedup_vs_teacher_torch`)."""
    from ..backends import REFERENCE_BACKEND, REFERENCE_PRECISION

    refs = {(r.get("backend"), r.get("batch")): r["latency_ms_p50"] for r in rows
            if r.get("role") == reference_role and r.get("precision") == REFERENCE_PRECISION
            and r.get("latency_ms_p50") and r.get("status") in ("ok", "inaccurate")}
    for r in rows:
        lat = r.get("latency_ms_p50")
        if not lat:
            continue
        same, torch = refs.get((r.get("backend"), r.get("batch"))), refs.get((REFERENCE_BACKEND, r.get("batch")))
        r["speedup_vs_teacher"] = round(same / lat, 2) if same else None
        r["speedup_vs_teacher_torch"] = round(torch / lat, 2) if torch else None


def table_columns(rows: Sequence[dict]) -> list[tuple[str, str, str]]:
    return [c for c in COLUMNS if any(r.get(c[0]) not in (None, "") for r in rows)]


def markdown_table(rows: Sequence[dict], columns: Sequence[tuple[str, str, str]] | None = None) -> str:
    """A GitHub markdown table of ledger rows ('-' where a value does not apply)."""
    cols = list(columns or table_columns(rows))
    if not rows or not cols:
        return "_no results_\n"
    return tables.markdown_table([t for _, t, _ in cols], ([cell(r, k, f) for k, _, f in cols] for r in rows))


def summary_columns(rows: Sequence[dict]) -> list[tuple[str, str, str]]:
    """The summary's columns; `batch` only when rows differ in it (the title then says which)."""
    one_batch = len({r.get("batch") for r in rows}) == 1
    return [c for c in table_columns(rows) if c[0] in SUMMARY_KEYS and not (c[0] == "batch" and one_batch)]


def narrow_rows(rows: Sequence[dict]) -> list[dict]:
    """Rows for the narrow table: `model` is the row's role in a run (teacher, student, pruned), else its name."""
    return [{**r, "model": r.get("role") or r.get("name")} for r in rows]


def narrow_columns(rows: Sequence[dict], columns: Sequence[tuple[str, str, str]] = NARROW_COLUMNS) -> list[tuple[str, str, str]]:
    """The narrow table's columns that some row fills; `batch` only when rows differ in it."""
    one_batch = len({r.get("batch") for r in rows}) == 1
    return [c for c in columns if any(r.get(c[0]) not in (None, "") for r in rows)
            and not (c[0] == "batch" and one_batch)]


def row_notes(rows: Sequence[dict]) -> list[str]:
    """'<model> <backend> <precision>: <reason>' for every row with a reason (what the narrow table leaves out)."""
    return [f"{r.get('role') or r.get('name')} {r.get('backend')} {r.get('precision')}"
            + (f" on {r['emulated']} (emulated)" if r.get("emulated") else "")
            + (f" batch {r.get('batch')}" if len({x.get('batch') for x in rows}) > 1 else "") + f": {r['reason']}"
            for r in rows if r.get("reason")]


def rich_table(rows: Sequence[dict], title: str | None = None, columns: Sequence[tuple[str, str, str]] | None = None):
    """The same table for the terminal."""
    from rich.table import Table
    from rich.text import Text

    cols = list(columns or table_columns(rows))
    t = Table(title=title, show_lines=False)
    for key, title_, _ in cols:
        t.add_column(title_, justify="left" if key in ("name", "model", "role", "backend", "precision", "status", "reason") else "right",
                     overflow="fold", no_wrap=key in ("name", "model", "role", "backend"))
    colour = {"ok": "green", "inaccurate": "yellow", "export_failed": "red", "skipped": "dim"}
    for r in rows:
        values = [Text(cell(r, k, f)) for k, _, f in cols]  # plain text: "pip install 'edgecv[onnx]'" keeps [onnx]
        style = colour.get(r.get("status"), "")
        t.add_row(*values, style=style if r.get("status") != "ok" else None)
    return t


def pareto_points(rows: Sequence[dict]) -> list[dict]:
    """One row per artifact (its smallest batch) with both top-1 and p50 latency."""
    best: dict[tuple, dict] = {}
    for r in rows:
        if r.get("top1") is None or r.get("latency_ms_p50") is None:
            continue
        key = (r.get("name"), r.get("backend"), r.get("precision"), r.get("path"))
        if key not in best or r.get("batch", 1) < best[key].get("batch", 1):
            best[key] = r
    return list(best.values())


def pareto_front(points: Sequence[dict]) -> list[dict]:
    """Points no other point beats on both latency (lower) and top-1 (higher)."""
    front, best_top1 = [], float("-inf")
    for p in sorted(points, key=lambda p: (p["latency_ms_p50"], -p["top1"])):
        if p["top1"] > best_top1:
            front.append(p)
            best_top1 = p["top1"]
    return front


def pareto_plot(rows: Sequence[dict], path: str | Path, title: str = "top-1 vs latency") -> Path | None:
    """Scatter of top-1 vs p50 latency, one point per artifact, the Pareto front joined; None if no point."""
    points = pareto_points(rows)
    if not points:
        return None
    from ..utils.plots import pyplot, save_png

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    backends = sorted({p["backend"] for p in points})
    for i, b in enumerate(backends):
        for teacher in (False, True):  # the teacher's points are stars: what every other point is measured against
            pts = [p for p in points if p["backend"] == b and (p.get("role") == "teacher") == teacher]
            if pts:
                ax.scatter([p["latency_ms_p50"] for p in pts], [p["top1"] for p in pts], s=90 if teacher else 40,
                           marker="*" if teacher else "o", color=f"C{i}", zorder=3, label=None if teacher else b)
    for k, p in enumerate(sorted(points, key=lambda p: (p["latency_ms_p50"], p["top1"]))):
        who = p.get("role") or p["name"]  # roles tell a student from its pruned copy; names do not
        ax.annotate(f"{who} {p['precision']}", (p["latency_ms_p50"], p["top1"]), fontsize=7,
                    xytext=(4, 3 if k % 2 else -9), textcoords="offset points")  # alternate sides: fewer overlaps
    front = pareto_front(points)
    ax.plot([p["latency_ms_p50"] for p in front], [p["top1"] for p in front], "--", color="grey", lw=1, zorder=2, label="Pareto front")
    lat = [p["latency_ms_p50"] for p in points]
    if max(lat) / max(min(lat), 1e-9) > 20:
        ax.set_xscale("log")
    batch = sorted({p.get("batch", 1) for p in points})
    ax.set_xlabel(f"p50 latency, ms (batch {', '.join(map(str, batch))})")
    ax.set_ylabel("top-1 accuracy, %")
    ax.set_title(title)
    ax.margins(x=0.2, y=0.08)  # room for the labels
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_png(fig, path)


def busy_rows(rows: Sequence[dict], threshold: float = BUSY_PCT) -> list[dict]:
    """Rows timed while other processes used more than `threshold` % of the machine's cores."""
    return [r for r in rows if isinstance(r.get("busy_other_pct"), (int, float)) and r["busy_other_pct"] > threshold]


def busy_warning(rows: Sequence[dict]) -> str:
    """A markdown line naming the rows timed on a busy machine ('' when there are none)."""
    busy = busy_rows(rows)
    if not busy:
        return ""
    return (f"**Busy machine**: other processes used more than {BUSY_PCT:.0f} % of the cores while {len(busy)} "
            "row(s) were timed, so their latency is likely inflated: "
            + ", ".join(f"{_row_label(r)} ({r['busy_other_pct']:.0f} %)" for r in busy) + ". Re-run them on an idle machine.")


def emulated_note(rows: Sequence[dict]) -> str:
    """A line saying what the emulated rows are ('' when there are none): which images, no latency, and each
    one's top-1 on the host against the emulated target's on those images."""
    emulated = [r for r in rows if r.get("emulated")]
    if not emulated:
        return ""
    images = sorted({r["images"] for r in emulated if r.get("images")})
    parts = [f"{_row_label(r).rsplit(' batch', 1)[0]} on {r['emulated']}: {_fmt(r.get('top1'))} % vs "
             f"{_fmt(r.get('host_top1'))} % on the host" + (f", {r['differ_from_host']} image(s) differ"
                                                              if r.get("differ_from_host") else "")
             for r in emulated if r.get("host_top1") is not None]
    return ("**Emulated rows** ran under QEMU user-mode emulation with the target's builds of the runtime, on "
            + (f"{'/'.join(map(str, images))} images" if images else "random images")
            + "; they have no latency (emulated time is not the target's time). `same as host %`: images whose "
            "top-1 equals the host's run of the same file on the same images"
            + (". Top-1 there: " + "; ".join(parts) if parts else "") + ".")


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def _row_label(r: dict) -> str:
    return " ".join(str(r.get(k)) for k in ("name", "backend", "precision") if r.get(k)) + f" batch {r.get('batch', 1)}"


def report_markdown(rows: Sequence[dict], environment: dict | None, title: str, plot: str | None) -> str:
    parts = [f"# {title}\n", markdown_table(rows)]
    if busy_warning(rows):
        parts.append(f"\n{busy_warning(rows)}\n")
    if emulated_note(rows):
        parts.append(f"\n{emulated_note(rows)}\n")
    if plot:
        parts.append(f"\n![top-1 vs p50 latency]({plot})\n")
    if environment:
        libs = ", ".join(f"{k} {v}" for k, v in (environment.get("libraries") or {}).items())
        gpu = environment.get("gpu")
        parts.append(
            f"\n**Environment**: {environment.get('cpu')} ({environment.get('cores_usable')} usable cores, "
            f"{_features(environment)}, load {environment.get('load_avg_1m')}), threads {environment.get('threads') or 'default'}, "
            f"GPU {gpu['name'] + ' driver ' + gpu['driver'] if gpu else 'none'}; {environment.get('os')}, "
            f"Python {environment.get('python')}; {libs}.\n")
    return "\n".join(parts)


def _features(environment: dict) -> str:
    """'x86_64 features avx2 avx512f ...': the CPU features that decide quantized kernels."""
    feats = environment.get("cpu_features")
    return f"{environment.get('cpu_arch') or '?'} features {' '.join(feats) if feats else 'none of note'}"


def write_ledger(folder: str | Path, rows: Sequence[dict], environment: dict | None = None,
                 title: str = "edgecv benchmark") -> dict[str, Path]:
    """Write results.json, report.md and pareto.png into `folder`.

    A new folder is created atomically (built beside it, then renamed into place); in an existing
    folder each file is replaced atomically.
    """
    folder = Path(folder)
    if folder.exists():
        return _write_files(folder, rows, environment, title, folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        paths = _write_files(tmp, rows, environment, title, folder)
        os.rename(tmp, folder)  # fails if someone created `folder` meanwhile: never merge two runs
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return paths


def _write_files(where: Path, rows, environment, title, final: Path) -> dict[str, Path]:
    plot = pareto_plot(rows, where / "pareto.png", title)
    out = {"results": write_json(where / "results.json", {"environment": environment, "rows": list(rows)}),
           "report": write_text(where / "report.md", report_markdown(rows, environment, title, "pareto.png" if plot else None))}
    if plot:
        out["pareto"] = final / "pareto.png"
    return {k: final / v.name for k, v in out.items()}
