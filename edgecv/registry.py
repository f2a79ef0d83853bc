"""One generic name -> object registry with did-you-mean errors.

A registry may name its plugins: the modules that register into it. They are imported on the first
look-up (once, whatever was imported before), so a registry is never seen half filled. A name ending
in `.*` stands for every module of that package (a new one is picked up by being there).
"""
from __future__ import annotations

import difflib
import threading
from contextlib import contextmanager
from typing import Callable, Generic, Iterator, Sequence, TypeVar

T = TypeVar("T")


def did_you_mean(name: str, choices) -> str:
    """A ' (did you mean 'x'?)' suffix, or '' when nothing is close."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def plugin_modules(plugins: Sequence[str]) -> list[str]:
    """The module names `plugins` stands for (`package.*` expanded to the package's modules, sorted)."""
    import importlib.util
    import pkgutil

    out: list[str] = []
    for name in plugins:
        if name.endswith(".*"):
            package = name[:-2]
            spec = importlib.util.find_spec(package)
            paths = list(spec.submodule_search_locations or []) if spec else []
            out += sorted(f"{package}.{m.name}" for m in pkgutil.iter_modules(paths) if not m.name.startswith("_"))
        else:
            out.append(name)
    return out


class Registry(Generic[T]):
    """Maps a name to an object; `register` works as a decorator."""

    def __init__(self, kind: str, plugins: Sequence[str] = ()):
        self.kind = kind
        self.plugins = tuple(plugins)  # modules that register into it (absolute names), loaded on first look-up
        self._items: dict[str, T] = {}
        self._loaded = not self.plugins
        self._loading = False
        self._lock = threading.RLock()

    def load(self) -> "Registry[T]":
        """Import every plugin module, once; each registers what it defines."""
        if self._loaded:
            return self
        from importlib import import_module

        with self._lock:
            if self._loaded or self._loading:  # loading: a plugin looking itself up while it registers
                return self
            self._loading = True
            try:
                for module in plugin_modules(self.plugins):
                    import_module(module)
                self._loaded = True
            finally:
                self._loading = False
        return self

    def register(self, name: str, obj: T | None = None) -> Callable[[T], T] | T:
        def add(o: T) -> T:
            if name in self._items and self._items[name] is not o:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = o
            return o

        return add(obj) if obj is not None else add

    def get(self, name: str) -> T:
        self.load()
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise KeyError(
                f"unknown {self.kind} '{name}'{did_you_mean(name, self._items)}; known: {known}"
            ) from None

    def unregister(self, name: str) -> T:
        """Remove `name` (e.g. a test's temporary entry); returns what was registered."""
        self.load()
        if name not in self._items:
            raise KeyError(f"unknown {self.kind} '{name}': nothing to unregister")
        return self._items.pop(name)

    @contextmanager
    def temporarily(self, name: str, obj: T) -> Iterator[T]:
        """`with REG.temporarily("x", obj):` registers `obj` as `name` for the block only."""
        self.load()
        self.register(name, obj)
        try:
            yield obj
        finally:
            if self._items.get(name) is obj:
                del self._items[name]

    def names(self) -> list[str]:
        self.load()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self.load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
