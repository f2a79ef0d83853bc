"""Lazy package attributes: a name resolves to `module.attr` on first use, so importing a package
does not import torch, onnxruntime or other heavy libraries."""
from __future__ import annotations

from importlib import import_module
from typing import Callable


def lazy_getattr(package: str, table: dict[str, tuple[str, str]]) -> Callable[[str], object]:
    """A module-level `__getattr__` for `package`; `table` maps name -> (submodule, attribute).

    A submodule starting with 'edgecv.' is absolute, otherwise relative to `package`.
    """

    def __getattr__(name: str):
        if name not in table:
            raise AttributeError(f"module '{package}' has no attribute '{name}'")
        mod, attr = table[name]
        return getattr(import_module(mod if mod.startswith("edgecv.") else f"{package}.{mod}"), attr)

    return __getattr__
