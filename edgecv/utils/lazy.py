"""Lazy package attributes: a name resolves to `module.attr` on first use, so importing a package
does not import torch, onnxruntime or other heavy libraries."""
from __future__ import annotations

from importlib import import_module
from typing import Callable


# package -> its table: what import-linter cannot see, checked by tests/test_contracts.py (no table
# may point up a layer)
TABLES: dict[str, dict[str, tuple[str, str]]] = {}


def target(package: str, module: str) -> str:
    """The absolute module a table entry names: 'edgecv.' is absolute, anything else relative to `package`."""
    return module if module.startswith("edgecv.") else f"{package}.{module}"


def lazy_getattr(package: str, table: dict[str, tuple[str, str]]) -> Callable[[str], object]:
    """A module-level `__getattr__` for `package`; `table` maps name -> (submodule, attribute)."""
    TABLES[package] = table

    def __getattr__(name: str):
        if name not in table:
            raise AttributeError(f"module '{package}' has no attribute '{name}'")
        mod, attr = table[name]
        return getattr(import_module(target(package, mod)), attr)

    return __getattr__
