"""`edgecv validate RECIPE.yaml`: check a recipe without running anything."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "validate",
        help="check a recipe's keys, types and stages without running it",
        description="Load and validate RECIPE (with any --set overrides). Prints the stages it would "
        "run; exits 2 listing every problem (key path, message, did-you-mean) otherwise.",
    )
    p.add_argument("recipe")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")
    p.set_defaults(func=_validate)


def _validate(args) -> int:
    from rich.markup import escape

    import edgecv
    from edgecv.utils.console import get_console

    recipe = edgecv.load_recipe(args.recipe, args.overrides)
    from edgecv.recipe import RecipeError, check_recipe_resources

    problems = check_recipe_resources(recipe)  # what `run` would refuse: unknown models, missing files
    if problems:
        raise RecipeError(str(args.recipe), problems)
    con = get_console()
    con.print(f"[green]ok[/] {escape(str(args.recipe))}: '{escape(recipe.name)}', student {escape(recipe.student.name)}"
              + (f", teacher {escape(recipe.teacher.name)}" if recipe.teacher else ""))
    for st in recipe.stages:
        con.print(f"  {st.index}. {st.type}")
    return 0
