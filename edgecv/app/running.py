"""`run`: a recipe's stages, in order, into a run folder (train -> distill -> prune -> quantize -> export
-> benchmark); what `edgecv run` and every sweep trial do.

    ctx = run("recipes/quickstart.yaml", out_dir="/tmp/qs", overrides=["stages.1.epochs=2"])
    ctx.results, ctx.artifacts, ctx.out_dir / "report.md"
"""
from __future__ import annotations

from pathlib import Path


def run(recipe, out_dir: str | Path | None = None, resume: bool | str = False, overrides: list[str] | None = None):
    """Run a recipe (a path, or a Recipe from `load_recipe`); returns the RunContext (models, artifacts,
    ledger rows). `resume` continues a killed run in `out_dir` at its first unfinished stage
    (True refuses a folder holding no run; `edgecv.pipeline.RESUME_IF_ANY` starts one there instead)."""
    from ..pipeline import run_recipe
    from ..recipe import Recipe, load_recipe

    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, overrides)
    return run_recipe(recipe, out_dir=out_dir, resume=resume)
