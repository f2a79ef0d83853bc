"""edgecv: compress image classifiers for the edge.

`import edgecv` stays light: torch, timm and every backend are imported inside the functions that
use them. The CLI is a thin layer over these functions.
"""
from __future__ import annotations

from .utils.lazy import lazy_getattr
from .utils.versions import EDGECV_VERSION as __version__

_LAZY = {
    "load_recipe": ("edgecv.recipe", "load_recipe"),
    "validate_recipe": ("edgecv.recipe", "validate_recipe"),
    "RecipeError": ("edgecv.recipe", "RecipeError"),
    "create_model": ("edgecv.models", "create_model"),
    "save_model": ("edgecv.models", "save_model"),
    "build_data": ("edgecv.data", "build_data"),
    "fit": ("edgecv.train.loop", "fit"),
    "evaluate": ("edgecv.eval.metrics", "evaluate"),
}


def run(recipe, out_dir=None, resume: bool | str = False, overrides=None):
    """Run a recipe (a path, or a Recipe from `load_recipe`); returns the RunContext."""
    from .pipeline import run_recipe
    from .recipe import Recipe, load_recipe

    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, overrides)
    return run_recipe(recipe, out_dir=out_dir, resume=resume)


def load_model(path):
    """Rebuild a model from an edgecv model file (pruned ones too); returns (model, file entries)."""
    from . import app  # noqa: F401  (loads the checkpoint extensions, e.g. pruning)
    from .models import load_model as load_file

    return load_file(path)


def __getattr__(name: str):
    if name == "prune":  # the subpackage is callable: edgecv.prune(model, macs_ratio=0.5, ...)
        from importlib import import_module

        return import_module("edgecv.prune")
    return _lazy(name)


_lazy = lazy_getattr(__name__, _LAZY)


__all__ = ["__version__", "run", "prune", "load_model", *_LAZY]
