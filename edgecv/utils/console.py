"""One rich console for the package; progress and tables go through it."""
from __future__ import annotations

_console = None


def get_console():
    global _console
    if _console is None:
        import sys

        from rich.console import Console

        # Logs and CI have no terminal width; a wide fixed width keeps result tables unwrapped.
        _console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    return _console
