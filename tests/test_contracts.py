"""The structure contracts: each holds on the code, and each fails on a violation planted in a copy.

import-linter checks the imports it sees (pyproject.toml); `lazy_table_problems` checks what it cannot
see: the lazy-import tables (`lazy_getattr`), the registries' plugin lists and the other tables edgecv
imports by name, none of which may point up a layer, and that no module imports by name outside them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.test_layers import ROOT, _copy_tree, _lint

CHECK = r'''
import ast, importlib, json, pkgutil, re, sys, tomllib
from pathlib import Path

import edgecv

root = Path(edgecv.__file__).parent
config = tomllib.loads(Path("pyproject.toml").read_text())["tool"]["importlinter"]
layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
rank = {name.strip(): len(layers) - i for i, layer in enumerate(layers) for name in re.split(r"[|:]", layer)}


def level(module):
    parts = module.split(".")
    return rank.get(parts[1]) if len(parts) > 1 else None  # the root package is in no layer


for info in pkgutil.walk_packages([str(root)], "edgecv."):
    if info.name != "edgecv.__main__":
        importlib.import_module(info.name)

from edgecv import cli, plugins
from edgecv.models import factory
from edgecv.registry import Registry, plugin_modules
from edgecv.utils.lazy import TABLES, target

edges = [(f"lazy table of {pkg} ('{name}')", pkg, target(pkg, mod)) for pkg, table in TABLES.items()
         for name, (mod, _) in table.items()]
for module in [m for n, m in list(sys.modules.items()) if n.startswith("edgecv.")]:
    for name, obj in list(vars(module).items()):
        if isinstance(obj, Registry) and obj.plugins and name.isupper():
            edges += [(f"plugins of {module.__name__}.{name}", module.__name__, p) for p in plugin_modules(obj.plugins)]
edges += [("edgecv.plugins.ATTACHMENTS", "edgecv.plugins", m) for m in plugins.ATTACHMENTS]
edges += [("edgecv.plugins.REGISTRIES", "edgecv.plugins", m) for m, _ in plugins.REGISTRIES.values()]
edges += [("edgecv.models.factory.MODEL_FAMILIES", factory.__name__, f"edgecv.models.{f}") for f in factory.MODEL_FAMILIES]
edges += [("edgecv.cli.COMMANDS", "edgecv.cli", f"edgecv.cli.{c}") for c in cli.COMMANDS]
problems = [f"{where}: {src} -> {dst} points up a layer" for where, src, dst in edges
            if level(src) is not None and level(dst) is not None and level(dst) > level(src)]

# every import by name goes through one of the tables above
MECHANISMS = {"__init__.py", "utils/lazy.py", "registry.py", "plugins.py", "models/factory.py", "cli/__init__.py"}
for path in sorted(root.rglob("*.py")):
    rel = path.relative_to(root).as_posix()
    if rel in MECHANISMS:
        continue
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            fn = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if fn in ("import_module", "__import__"):
                problems.append(f"{rel}:{node.lineno}: imports a module by name outside a table this check reads "
                                "(use lazy_getattr, or a Registry's plugins)")
print(json.dumps(problems))
'''


def lazy_table_problems(tree: Path) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    res = subprocess.run([sys.executable, "-c", CHECK], cwd=tree, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def _plant(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_no_lazy_table_points_up_a_layer():
    assert lazy_table_problems(ROOT) == []


def test_a_lazy_table_pointing_up_is_caught(tmp_path):
    tree = _copy_tree(tmp_path)
    models = tree / "edgecv" / "models" / "__init__.py"
    models.write_text(models.read_text().replace('_LAZY = {', '_LAZY = {\n    "Predictor": ("edgecv.app.predictor", "Predictor"),'))
    _plant(tree / "edgecv" / "data" / "spec.py", '\n\ndef _hidden():\n    import importlib\n    return importlib.import_module("edgecv.bench")\n')
    problems = lazy_table_problems(tree)
    assert any("lazy table of edgecv.models ('Predictor'): edgecv.models -> edgecv.app.predictor points up" in p for p in problems)
    assert any(p.startswith("data/spec.py:") and "outside a table" in p for p in problems)


def test_demo_serve_and_sweep_reach_backends_and_models_only_through_the_app(tmp_path):
    tree = _copy_tree(tmp_path)
    _plant(tree / "edgecv" / "demo" / "loop.py", "\n\ndef _sneaky():\n    from ..backends import BACKENDS  # noqa: F401\n")
    _plant(tree / "edgecv" / "sweep" / "trial.py", "\n\ndef _sneaky():\n    from ..models import create_model  # noqa: F401\n")
    res = _lint(tree)
    assert res.returncode != 0 and "edgecv.demo is not allowed to import edgecv.backends" in res.stdout
    assert "edgecv.demo.loop -> edgecv.backends" in res.stdout and "edgecv.sweep.trial -> edgecv.models" in res.stdout


def test_a_stage_added_to_the_registry_is_under_the_independence_contract(tmp_path):
    """The stage list is the registry's: a new stage importing another breaks the contract once it has its line
    in STAGE_MODULES, and no other list has to name it."""
    tree = _copy_tree(tmp_path)
    stage = tree / "edgecv" / "stages" / "calibrate.py"
    stage.write_text('"""A stage that borrows from another."""\nfrom .export import ExportStage  # noqa: F401\n')
    assert "5 kept, 0 broken" in _lint(tree).stdout  # not a registered stage yet: nothing to check
    registry = tree / "edgecv" / "stages" / "registry.py"
    registry.write_text(registry.read_text().replace('"prune", "quantize")', '"prune", "quantize", "calibrate")'))
    res = _lint(tree)
    assert res.returncode != 0 and "edgecv.stages.calibrate is not allowed to import edgecv.stages.export" in res.stdout


def test_backend_packages_never_import_each_other(tmp_path):
    tree = _copy_tree(tmp_path)
    _plant(tree / "edgecv" / "backends" / "tflite" / "runner.py",
           "\n\ndef _sneaky():\n    from ..onnxruntime.runner import open_session  # noqa: F401\n")
    res = _lint(tree)
    assert res.returncode != 0 and "edgecv.backends.tflite.runner -> edgecv.backends.onnxruntime.runner" in res.stdout


def test_an_import_circle_is_caught(tmp_path):
    """The circle this project once had: a backend's runner importing its builder, which imports the runner."""
    tree = _copy_tree(tmp_path)
    _plant(tree / "edgecv" / "backends" / "tensorrt" / "runner.py",
           "\n\ndef _sneaky():\n    from .builder import decide  # noqa: F401\n")
    res = _lint(tree)
    assert res.returncode != 0 and "No cycles are allowed in edgecv.backends.tensorrt" in res.stdout
