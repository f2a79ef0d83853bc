"""Versions of edgecv and of installed libraries, read from the installed packages' metadata (the
libraries are not imported)."""
from __future__ import annotations

from typing import Iterable

UNKNOWN = "0+unknown"  # edgecv run from a source tree that was never installed (no metadata to read)


def edgecv_version() -> str:
    """edgecv's version: the installed distribution's (pyproject.toml's, for `pip install -e .`)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("edgecv")
    except PackageNotFoundError:
        return UNKNOWN


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """{distribution: version} for the installed ones; edgecv itself is always there (a checkout counts)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for n in names:
        if n == "edgecv":
            out[n] = edgecv_version()
            continue
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            pass
    return out
