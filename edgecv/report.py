"""The run's report: results.json (rows + recipe, seed, versions, machine), report.md, a printed table.

Tables and the Pareto plot come from the benchmark ledger (edgecv.bench.ledger), so a run's report and
`edgecv bench` read the same way.
"""
from __future__ import annotations

from pathlib import Path

from .bench.environment import fingerprint
from .bench.ledger import busy_warning, emulated_note, markdown_table, pareto_plot, rich_table, summary_columns
from .stages.prune import PRUNE_STEP
from .utils.io import write_json, write_text


def write_report(ctx, console) -> tuple[Path, Path]:
    rows = [{k: v for k, v in r.items() if k != "per_class"} for r in ctx.results]
    doc = {
        "recipe": ctx.recipe.raw, "recipe_file": ctx.recipe.source, "seed": ctx.seed,
        "environment": fingerprint(), "data": ctx.data.describe(), "stages": ctx.records, "rows": rows,
        "artifacts": ctx.artifacts,
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
        console.print(rich_table(rows, title, summary_columns(rows)))
        if emulated_note(rows):
            console.print(emulated_note(rows), markup=False)
    return md_path, json_path
