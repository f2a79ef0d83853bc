"""One generic name -> object registry with did-you-mean errors."""
from __future__ import annotations

import difflib
from contextlib import contextmanager
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


def did_you_mean(name: str, choices) -> str:
    """A ' (did you mean 'x'?)' suffix, or '' when nothing is close."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Registry(Generic[T]):
    """Maps a name to an object; `register` works as a decorator."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, obj: T | None = None) -> Callable[[T], T] | T:
        def add(o: T) -> T:
            if name in self._items and self._items[name] is not o:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = o
            return o

        return add(obj) if obj is not None else add

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise KeyError(
                f"unknown {self.kind} '{name}'{did_you_mean(name, self._items)}; known: {known}"
            ) from None

    def unregister(self, name: str) -> T:
        """Remove `name` (e.g. a test's temporary entry); returns what was registered."""
        if name not in self._items:
            raise KeyError(f"unknown {self.kind} '{name}': nothing to unregister")
        return self._items.pop(name)

    @contextmanager
    def temporarily(self, name: str, obj: T) -> Iterator[T]:
        """`with REG.temporarily("x", obj):` registers `obj` as `name` for the block only."""
        self.register(name, obj)
        try:
            yield obj
        finally:
            if self._items.get(name) is obj:
                del self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
