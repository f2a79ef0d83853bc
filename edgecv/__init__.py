"""edgecv: compress image classifiers for the edge.

The front door is the application layer (edgecv.app), exported here:

    import edgecv
    model = edgecv.load_model("cifar_resnet20", checkpoint="resnet20.th")
    onnx = edgecv.export(model, "r20.onnx")
    int8 = edgecv.quantize(onnx.path, "r20-int8.onnx", calib_data="train/")
    rows = edgecv.benchmark(int8.path, data="val/").rows
    edgecv.Predictor(int8.path).predict(image)

`import edgecv` stays light: torch, timm and every backend are imported inside the functions that
use them. The CLI is a thin layer over these functions.
"""
from __future__ import annotations

import types
from importlib import import_module

from .utils.lazy import lazy_getattr

_APP = ("load_model", "LoadedModel", "ModelSource", "open_artifact", "Predictor", "Prediction", "load_plugins",
        "export", "ExportOptions", "ExportResult", "quantize", "QuantizeOptions", "QuantizeResult",
        "prune", "PruneOptions", "PruneResult", "benchmark", "BenchmarkOptions", "BenchmarkResult", "run")
_LAZY = {
    **{name: ("edgecv.app", name) for name in _APP},
    "load_recipe": ("edgecv.recipe", "load_recipe"),
    "validate_recipe": ("edgecv.recipe", "validate_recipe"),
    "RecipeError": ("edgecv.recipe", "RecipeError"),
    "create_model": ("edgecv.models", "create_model"),
    "save_model": ("edgecv.models", "save_model"),
    "build_data": ("edgecv.data", "build_data"),
    "fit": ("edgecv.train.loop", "fit"),
    "evaluate": ("edgecv.eval.metrics", "evaluate"),
}
# Workflows named like the subpackages below them (edgecv.export, edgecv.quantize, edgecv.prune).
_SHARED_NAMES = ("export", "quantize", "prune")


class Workflow:
    """`edgecv.prune` (and `export`, `quantize`): calling it runs the application's workflow; its other
    names are the subpackage's, so `edgecv.prune.PruneSpec` and `from edgecv import prune` keep working."""

    def __init__(self, name: str):
        self.__name__ = self._name = name
        self.__doc__ = f"edgecv.app.{name}, and the names of the edgecv.{name} package"

    def __call__(self, *args, **kwargs):
        return getattr(import_module("edgecv.app"), self._name)(*args, **kwargs)

    def __getattr__(self, attr: str):
        return getattr(import_module(f"edgecv.{self._name}"), attr)

    def __repr__(self) -> str:
        return f"<edgecv workflow {self._name}: edgecv.app.{self._name}, and the edgecv.{self._name} package>"


class _FrontDoor(types.ModuleType):
    """Importing a subpackage binds its name on its parent; for the shared names the workflow stays."""

    def __setattr__(self, name: str, value) -> None:
        if name in _SHARED_NAMES and isinstance(value, types.ModuleType):
            value = Workflow(name)
        super().__setattr__(name, value)


def __getattr__(name: str):
    if name in _SHARED_NAMES:
        return Workflow(name)
    if name == "__version__":
        from .utils.versions import edgecv_version

        return edgecv_version()
    return _lazy(name)


_lazy = lazy_getattr(__name__, _LAZY)
__import__("sys").modules[__name__].__class__ = _FrontDoor

__all__ = ["__version__", *_LAZY]
