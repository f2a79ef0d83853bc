"""The layer contracts in pyproject.toml hold, and an upward import is really caught."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess:
    if LINT is None:
        pytest.fail("lint-imports is not installed: pip install -e '.[dev]' (import-linter)")
    env = {**os.environ, "PYTHONPATH": str(tree)}  # the tree's own copy of edgecv is the one analysed
    return subprocess.run([LINT, "--config", str(tree / "pyproject.toml"), "--no-cache"], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=300)


def _copy_tree(dst: Path) -> Path:
    """The package, pyproject.toml and the project's contract types, to plant a violation in."""
    shutil.copytree(ROOT / "edgecv", dst / "edgecv", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dst / "pyproject.toml")
    (dst / "tests").mkdir()
    (dst / "tests" / "__init__.py").write_text("")
    shutil.copy(ROOT / "tests" / "import_contracts.py", dst / "tests" / "import_contracts.py")
    return dst


def test_layers_point_one_way():
    res = _lint(ROOT)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "5 kept, 0 broken" in res.stdout


def test_an_upward_import_is_caught(tmp_path):
    """backends -> quantize (the cycle this project once had) breaks the contract, naming the line."""
    _copy_tree(tmp_path)
    backend = tmp_path / "edgecv" / "backends" / "onnxruntime" / "backend.py"
    backend.write_text(backend.read_text() + "\n\ndef _sneaky():\n    from ...quantize import api  # noqa: F401\n")
    res = _lint(tmp_path)
    assert res.returncode != 0
    assert "edgecv.backends is not allowed to import edgecv.quantize" in res.stdout
    assert "edgecv.backends.onnxruntime.backend -> edgecv.quantize.api" in res.stdout
