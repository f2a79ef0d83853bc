"""Typed options objects with keyword shortcuts: `f(x, options)` and `f(x, field=value)` mean the same.

A workflow that would take a long list of settings takes one frozen dataclass instead; its callers may
still name single fields as keywords, which `with_fields` merges into the object (an unknown name is a
TypeError naming the function and listing the fields it has).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, TypeVar

T = TypeVar("T")


def with_fields(cls: type[T], options: T | None, fields: Mapping[str, Any], what: str) -> T:
    """`options` (or `cls`'s defaults) with `fields` set."""
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(fields) - set(names))
    if unknown:
        raise TypeError(f"{what}() got unknown option(s) {', '.join(unknown)}; {cls.__name__} has: {', '.join(names)}")
    if options is None:
        return cls(**fields)
    if not isinstance(options, cls):
        raise TypeError(f"{what}(): options must be a {cls.__name__}, got {type(options).__name__}")
    return dataclasses.replace(options, **fields) if fields else options
