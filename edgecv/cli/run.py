"""`edgecv run RECIPE.yaml`: run every stage of a recipe."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "run",
        help="run a recipe (train -> distill -> ... -> evaluate) and write a report",
        description="Validate RECIPE, then run its stages in order. Results go to --out (default "
        "~/.edgecv/runs/<name>-<time>, or $EDGECV_RUNS): report.md, results.json, checkpoints, plots.",
    )
    p.add_argument("recipe", help="path to a YAML recipe, e.g. recipes/quickstart.yaml")
    p.add_argument("--out", "-o", help="output folder (created; must be empty unless --resume)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a recipe key, e.g. --set stages.0.epochs=2 --set data.batch_size=32 (repeatable)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out (or the latest run of this recipe) after a kill")
    p.set_defaults(func=_run)


def _run(args) -> int:
    import edgecv
    from edgecv.cli import Interrupted
    from edgecv.pipeline import default_out_dir, latest_run

    recipe = edgecv.load_recipe(args.recipe, args.overrides)
    out = args.out
    if args.resume and out is None:
        out = latest_run(recipe.name)
        if out is None:
            raise FileNotFoundError(f"--resume: no earlier run of '{recipe.name}' found; pass --out DIR")
    out = out or default_out_dir(recipe.name)  # chosen here so a Ctrl-C can say where to resume
    try:
        ctx = edgecv.run(recipe, out_dir=out, resume=args.resume)
    except KeyboardInterrupt:
        raise Interrupted(f"resume with: {resume_command(args.recipe, out, args.overrides)}") from None
    print(f"report: {ctx.out_dir / 'report.md'}")
    return 0


def resume_command(recipe: str, out, overrides: list[str]) -> str:
    """The shell command that continues this run (same recipe, same --set overrides)."""
    import shlex

    sets = "".join(f" --set {shlex.quote(o)}" for o in overrides)
    return f"edgecv run {shlex.quote(str(recipe))} --out {shlex.quote(str(out))}{sets} --resume"
