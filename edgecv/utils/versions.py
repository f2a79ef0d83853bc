"""Versions of edgecv and of installed libraries, read without importing them."""
from __future__ import annotations

from typing import Iterable

EDGECV_VERSION = "0.1.0"


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """{distribution: version} for the installed ones; edgecv itself is always there (a checkout counts)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            if n == "edgecv":
                out[n] = EDGECV_VERSION
    return out
