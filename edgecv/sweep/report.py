"""The sweep's ledger: one row per trial, best first (results.json, report.md), Optuna's
optimization-history and parameter-importance plots (PNG), and the table printed at the end.

A trial's row holds its values (overrides), status, metrics, the ledger row they came from, its folder
and, for a failed trial, its error. Best first: finished trials by the objective (with several
objectives the Pareto set first), then running, queued and failed ones.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, Sequence

from .errors import import_optuna
from .objective import OBJECTIVES
from .space import CHOICE, overrides_for
from .study import SweepSpec, trial_folder

STATUS = {"COMPLETE": "complete", "FAIL": "failed", "RUNNING": "running", "WAITING": "queued", "PRUNED": "pruned"}
_ORDER = {"complete": 0, "running": 1, "queued": 2, "pruned": 3, "failed": 4}


def ledger_rows(spec: SweepSpec, study) -> list[dict[str, Any]]:
    """One row per planned trial (its latest attempt), best first."""
    trials = study.get_trials(deepcopy=False)
    latest: dict[int, Any] = {}
    attempts: dict[int, int] = {}
    for t in trials:
        slot = int(t.user_attrs.get("slot", t.number))
        attempts[slot] = attempts.get(slot, 0) + 1
        if slot not in latest or t.number > latest[slot].number:
            latest[slot] = t
    best = {t.number for t in _best_trials(study)}
    rows = []
    for slot, t in latest.items():
        params = {**t.system_attrs.get("fixed_params", {}), **t.params}
        metrics = t.user_attrs.get("metrics") or {}
        status = STATUS.get(t.state.name, t.state.name.lower())
        rows.append({
            "trial": slot, "optuna_trial": t.number, "status": status, "best": t.number in best,
            "params": params, "overrides": t.user_attrs.get("overrides") or (overrides_for(params) if params else []),
            "top1": metrics.get("top1"), "latency_ms_p50": metrics.get("latency_ms_p50"), "score": metrics.get("score"),
            "values": list(t.values) if t.values else None, "row": t.user_attrs.get("row"),
            "seconds": t.user_attrs.get("seconds"), "attempts": attempts[slot],
            "folder": t.user_attrs.get("folder", trial_folder(slot)),
            "worker": (t.user_attrs.get("worker") or {}).get("host"),
            "error": t.user_attrs.get("error") if status in ("failed", "queued") else None,
        })
    return sorted(rows, key=lambda r: _rank(r, spec))


def _best_trials(study) -> list:
    try:
        if len(study.directions) > 1:
            return list(study.best_trials)  # the Pareto set
        return [study.best_trial]
    except ValueError:  # no finished trial yet
        return []


def _rank(row: dict, spec: SweepSpec) -> tuple:
    values = row["values"] or []
    first = values[0] if values else math.inf
    if values and OBJECTIVES[spec.objectives[0]][0] == "maximize":
        first = -first
    return (_ORDER.get(row["status"], 9), not row["best"], first, row["trial"])


def short_names(keys: Sequence[str]) -> dict[str, str]:
    """The shortest dotted suffix that tells the keys apart: stages.distill.losses.0.temperature -> temperature."""
    out = {}
    for key in keys:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            tail = ".".join(parts[-n:])
            if parts[-n].isdigit() and n < len(parts):
                continue
            if sum(1 for k in keys if k == tail or k.endswith("." + tail)) == 1:
                out[key] = tail
                break
        else:
            out[key] = key
    return out


def table_columns(spec: SweepSpec, rows: Sequence[dict]) -> list[tuple[str, str, str]]:
    names = short_names([d.key for d in spec.dims])
    cols = [("trial", "trial", "{}"), ("status", "status", "{}"),
            ("best", "Pareto" if len(spec.objectives) > 1 else "best", "{}")]
    for d in spec.dims:
        numeric = d.kind != CHOICE or all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in d.choices)
        cols.append((f"param:{d.key}", names[d.key], "{:.4g}" if numeric else "{}"))
    cols += [("top1", "top-1 %", "{:.2f}"), ("latency_ms_p50", "p50 ms", "{:.3f}")]
    if spec.latency_bound is not None:
        cols.append(("score", f"score (<= {spec.latency_bound:g} ms)", "{:.2f}"))
    cols += [("row", "ledger row", "{}"), ("seconds", "s", "{:.1f}"), ("folder", "folder", "{}"), ("error", "note", "{}")]
    return [c for c in cols if c[0].startswith("param:") or c[0] in ("trial", "status", "best")
            or any(r.get(c[0]) not in (None, "") for r in rows)]


def table_rows(rows: Sequence[dict]) -> list[dict]:
    """Rows flattened for a table: params as `param:<key>`, the best mark as '*'."""
    return [{**r, **{f"param:{k}": v for k, v in r["params"].items()}, "best": "*" if r["best"] else ""} for r in rows]


def markdown(spec: SweepSpec, rows: Sequence[dict]) -> str:
    from ..bench.ledger import markdown_table

    return markdown_table(table_rows(rows), table_columns(spec, rows))


def rich(spec: SweepSpec, rows: Sequence[dict], title: str):
    from ..bench.ledger import rich_table

    return rich_table(table_rows(rows), title, table_columns(spec, rows))


def write_plots(spec: SweepSpec, study, out: Path) -> tuple[list[Path], list[str]]:
    """Optuna's optimization history (one per objective) and parameter importances (matplotlib, PNG);
    with several objectives, the Pareto front too. Returns (files, notes on plots that were not drawn)."""
    from ..utils.plots import pyplot, save_png
    from ..utils.errors import first_line

    optuna = import_optuna()
    pyplot()  # Agg: no display needed
    from optuna.visualization import matplotlib as vis

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    multi = len(spec.objectives) > 1
    files: list[Path] = []
    notes: list[str] = []

    def draw(name: str, fn, **kw) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
                ax = fn(study, **kw)
            axes = ax.flat if hasattr(ax, "flat") else [ax]
            fig = next(iter(axes)).figure
            fig.set_size_inches(max(fig.get_size_inches()[0], 8), max(fig.get_size_inches()[1], 5))
            fig.tight_layout()
            files.append(save_png(fig, out / name))
        except Exception as e:  # a plot is a by-product: say why it is missing, never fail the sweep for it
            pyplot().close("all")
            notes.append(f"{name}: not drawn ({first_line(e)})")

    if not complete:
        return files, ["plots: no finished trial yet"]
    for i, o in enumerate(spec.objectives):
        target = (lambda t, i=i: t.values[i]) if multi else None
        draw(f"history-{o}.png" if multi else "history.png", vis.plot_optimization_history,
             target=target, target_name=_target_name(o, spec))
    varying = [d.key for d in spec.dims if len({repr(t.params.get(d.key)) for t in complete}) > 1]
    results = {tuple(t.values) for t in complete}
    if len(complete) < 2 or not varying or len(results) < 2:
        notes.append("importance.png: not drawn (parameter importance needs 2 finished trials or more whose values "
                     f"and results differ; {len(complete)} finished, {len(results)} distinct result(s))")
    else:
        for i, o in enumerate(spec.objectives):
            target = (lambda t, i=i: t.values[i]) if multi else None
            draw(f"importance-{o}.png" if multi else "importance.png", vis.plot_param_importances,
                 target=target, target_name=_target_name(o, spec))
    if multi:
        draw("pareto-front.png", vis.plot_pareto_front, target_names=[_target_name(o, spec) for o in spec.objectives])
    return files, notes


def _target_name(objective: str, spec: SweepSpec) -> str:
    return {"top1": "top-1 %", "latency": "p50 latency, ms",
            "score": f"score (top-1 % within {spec.latency_bound:g} ms)" if spec.latency_bound else "score"}[objective]


def write_ledger(spec: SweepSpec, study, storage_shown: str) -> dict[str, Any]:
    """results.json, report.md and the plots in the sweep folder; returns {'rows', 'files', 'notes'}."""
    from ..utils.io import write_json, write_text

    out = Path(spec.out)
    rows = ledger_rows(spec, study)
    plots, notes = write_plots(spec, study, out)
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in _ORDER}
    doc = {"study": study.study_name, "storage": storage_shown, "recipe": spec.recipe, "settings": spec.settings(),
           "objectives": [{"name": o, "direction": OBJECTIVES[o][0]} for o in spec.objectives],
           "counts": counts, "rows": rows, "plots": [p.name for p in plots], "notes": notes}
    json_path = write_json(out / "results.json", doc)
    head = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    md = [f"# edgecv sweep: {spec.recipe_name}", "",
          f"Recipe `{spec.recipe}`" + (f" with `--set {' '.join(spec.sets)}`" if spec.sets else "") +
          f"; {spec.mode} over {', '.join(d.text() for d in spec.dims)}; {spec.trials} trials ({head}).",
          f"Objective: {', '.join(f'{o} ({OBJECTIVES[o][0]})' for o in spec.objectives)}"
          + (f", latency bound {spec.latency_bound:g} ms" if spec.latency_bound is not None else "")
          + f"; metrics from the ledger row {','.join(f'{k}={v}' for k, v in spec.metric_row.items())} of each run.",
          f"Study `{study.study_name}` in `{storage_shown}`.", "",
          markdown(spec, rows),
          "Best first" + (" (`*`: the Pareto set)" if len(spec.objectives) > 1 else " (`*`: the best trial)")
          + "; each trial is an `edgecv run` in its folder (its command heads `sweep-trial.log` there).", ""]
    for p in plots:
        md += [f"![{p.stem}]({p.name})", ""]
    if notes:
        md += ["Notes:", ""] + [f"- {n}" for n in notes] + [""]
    md_path = write_text(out / "report.md", "\n".join(md))
    return {"rows": rows, "files": [json_path, md_path, *plots], "notes": notes}
