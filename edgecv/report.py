"""The run's report: results.json (rows + recipe, seed, versions, machine), report.md, a printed table.

Tables and the Pareto plot come from the benchmark ledger (edgecv.bench.ledger), so a run's report and
`edgecv bench` read the same way.
"""
from __future__ import annotations

from pathlib import Path

from .bench.environment import fingerprint
from .bench.ledger import markdown_table, pareto_plot, rich_table
from .utils.io import write_json, write_text


def write_report(ctx, console) -> tuple[Path, Path]:
    rows = [{k: v for k, v in r.items() if k != "per_class"} for r in ctx.results]
    doc = {
        "recipe": ctx.recipe.raw, "recipe_file": ctx.recipe.source, "seed": ctx.seed,
        "environment": fingerprint(), "data": ctx.data.describe(), "stages": ctx.records, "rows": rows,
        "artifacts": ctx.artifacts,
    }
    json_path = write_json(ctx.out_dir / "results.json", doc)
    plot = pareto_plot(rows, ctx.out_dir / "pareto.png", f"{ctx.recipe.name}: top-1 vs p50 latency") if rows else None
    d = ctx.data
    md = [f"# edgecv run: {ctx.recipe.name}", "",
          f"Recipe `{ctx.recipe.source}`, seed {ctx.seed}; data: {len(d.train)} train / {len(d.val)} val images, "
          f"{d.num_classes} classes, {d.image_size} px.", "",
          markdown_table(rows) if rows else "_no results: add an `evaluate` or `benchmark` stage_",
          "Latency: median (p50) per call at the batch shown; `torch` rows are PyTorch eager.", ""]
    if plot:
        md += ["![top-1 vs p50 latency](pareto.png)", ""]
    md += ["## Stages", ""]
    for rec in ctx.records:
        info = ", ".join(f"{k}: {v}" for k, v in rec.items() if k not in ("stage", "model_files") and not isinstance(v, (dict, list)))
        md.append(f"- **{rec['stage']}** ({info})")
    md_path = write_text(ctx.out_dir / "report.md", "\n".join(md) + "\n")
    if rows:
        console.print(rich_table(rows, f"{ctx.recipe.name}: {d.num_classes} classes, {len(d.val)} val images"))
    return md_path, json_path
