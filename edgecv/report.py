"""The run's report: results.json (rows + recipe, seed, versions, machine), report.md, a printed table.

Tables and the Pareto plot come from the benchmark ledger (edgecv.bench.ledger), so a run's report and
`edgecv bench` read the same way.
"""
from __future__ import annotations

from pathlib import Path

from .bench.deploy import deploy_lines, deploy_markdown
from .bench.environment import fingerprint
from .bench.ledger import (EMULATED_COLUMNS, busy_rows, busy_warning, emulated_note, markdown_table, narrow_columns,
                           narrow_rows, pareto_plot, rich_table, row_notes)
from .stages.prune import PRUNE_STEP
from .utils.io import write_json, write_text


def write_report(ctx, console) -> tuple[Path, Path]:
    rows = [{k: v for k, v in r.items() if k != "per_class"} for r in ctx.results]
    env = fingerprint()
    deploy = next((rec["deploy"] for rec in reversed(ctx.records) if rec.get("deploy") is not None), None)
    doc = {
        "recipe": ctx.recipe.raw, "recipe_file": ctx.recipe.source, "seed": ctx.seed,
        "environment": env, "data": ctx.data.describe(), "stages": ctx.records, "rows": rows,
        "artifacts": ctx.artifacts, "deploy": deploy,
    }
    json_path = write_json(ctx.out_dir / "results.json", doc)
    steps = [r for r in rows if r.get("kind") == PRUNE_STEP]  # the pruning log gets its own table
    rows = [r for r in rows if r.get("kind") != PRUNE_STEP]
    plot = pareto_plot(rows, ctx.out_dir / "pareto.png", f"{ctx.recipe.name}: top-1 vs p50 latency") if rows else None
    d = ctx.data
    md = [f"# edgecv run: {ctx.recipe.name}", "",
          f"Recipe `{ctx.recipe.source}`, seed {ctx.seed}; data: {len(d.train)} train / {len(d.val)} val images, "
          f"{d.num_classes} classes, {d.image_size} px.", "",
          markdown_table(rows) if rows else "_no results: add an `evaluate` or `benchmark` stage_",
          "Latency: median (p50) per call at the batch shown, with the `threads` shown; `torch` rows are PyTorch "
          "eager. `x teacher`: speed-up over the FP32 teacher on the same runtime (its p50 over the row's); "
          "`x torch teacher`: speed-up over the FP32 teacher in PyTorch eager. `other load %`: the share of the "
          "machine's cores other processes used while the row was timed (`busy` above 25 %).", ""]
    if deploy:
        md += ["## What to deploy", "", deploy_markdown(deploy)]
    if steps:
        md += ["## Pruning steps", "", markdown_table(steps)]
    if busy_warning(rows):
        md += [busy_warning(rows), ""]
    if emulated_note(rows):
        md += [emulated_note(rows), ""]
    if plot:
        md += ["![top-1 vs p50 latency](pareto.png)", ""]
    md += ["## Stages", ""]
    for rec in ctx.records:
        info = ", ".join(f"{k}: {v}" for k, v in rec.items() if k not in ("stage", "model_files") and not isinstance(v, (dict, list)))
        md.append(f"- **{rec['stage']}** ({info})")
    md_path = write_text(ctx.out_dir / "report.md", "\n".join(md) + "\n")
    if rows:
        batches = sorted({r.get("batch") for r in rows if r.get("batch")})
        title = (f"{ctx.recipe.name}: {d.num_classes} classes, {len(d.val)} val images"
                 + (f", batch {batches[0]}" if len(batches) == 1 else ""))
        shown = narrow_rows([r for r in rows if not r.get("emulated")])
        console.print(rich_table(shown, title, narrow_columns(shown)))
        emulated = narrow_rows([r for r in rows if r.get("emulated")])
        if emulated:  # accuracy only, in a table of their own: emulated time is not the target's
            console.print(rich_table(emulated, "on emulated CPUs (accuracy only)", narrow_columns(emulated, EMULATED_COLUMNS)))
            console.print(emulated_note(rows), markup=False)
        for line in under_table(rows, env, deploy):
            console.print(line, markup=False, highlight=False)
    return md_path, json_path


def under_table(rows: list[dict], env: dict, deploy: list[dict] | None) -> list[str]:
    """What the narrow table leaves out, as lines under it: each row's note, busy rows, the CPU and the
    targets the artifacts were built for, and per backend the artifact to deploy."""
    lines = [f"note: {n}" for n in row_notes(rows)]
    busy = busy_rows(rows)
    if busy:
        lines.append(f"busy: other processes used over a quarter of the cores while {len(busy)} row(s) were timed; "
                     "re-run on an idle machine for their latency")
    built = sorted({str(r["target"]) for r in rows if r.get("target")})
    feats = " ".join(env.get("cpu_features") or []) or "none of note"
    lines.append(f"CPU: {env.get('cpu')} ({env.get('cpu_arch')} {feats})"
                 + (f"; artifacts built for target {', '.join(built)}" if built else ""))
    return lines + deploy_lines(deploy or [])
