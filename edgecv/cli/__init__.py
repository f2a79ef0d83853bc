"""The `edgecv` command: a thin layer over the Python API.

Each subcommand is one module in this package with `register(subparsers)`; adding a command is one
file plus one entry in COMMANDS.
"""
from __future__ import annotations

import argparse
import os
import sys

COMMANDS = ["run", "validate", "export", "bench", "emulate", "info", "prune", "quantize", "demo", "serve", "sweep"]


class UserError(Exception):
    """An error whose message is the whole story: printed without a traceback."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C with a hint for the user (e.g. the command that resumes the run); `main` prints it."""

    def __init__(self, hint: str):
        super().__init__(hint)
        self.hint = hint


def build_parser() -> argparse.ArgumentParser:
    from importlib import import_module

    from ..utils.versions import edgecv_version

    parser = argparse.ArgumentParser(
        prog="edgecv",
        description="Compress image classifiers for the edge: distil, prune, quantize, export and "
        "benchmark, driven by YAML recipes or one command at a time.",
    )
    parser.add_argument("--version", action="version", version=f"edgecv {edgecv_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..plugins import load_plugins

    load_plugins()  # every command sees what the layers add: ONNX int8/fp16, pruned model files

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt as e:
        hint = getattr(e, "hint", None)  # e.g. `run` says how to resume (Interrupted)
        print(f"interrupted; {hint}" if hint else "interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001  (no exception type reaches the user as a traceback)
        if os.environ.get("EDGECV_DEBUG"):
            raise
        return _report(e)


# Errors whose message is the whole story (ours, and the environment's: a missing file, a full disk)
EXPECTED = (UserError, ValueError, KeyError, OSError, RuntimeError, ImportError, MemoryError)
# ...except these subclasses, which say nothing a user can act on: a bug somewhere below
UNEXPECTED = (UnicodeError, RecursionError, NotImplementedError)


def _report(e: Exception) -> int:
    """Print `e` as one line: 2 for an expected error; 1 for anything else, with the file that holds
    its full traceback (for a bug report)."""
    from ..utils.errors import describe, first_line, write_traceback

    if isinstance(e, EXPECTED) and not isinstance(e, UNEXPECTED):
        _print_error(describe(e))
        return 2
    where = write_traceback(e)
    _print_error(f"unexpected {type(e).__name__}: {first_line(e, 200)} (a bug in edgecv or a library; "
                 f"full traceback in {where})")
    return 1


def _print_error(message: str) -> None:
    from rich.markup import escape

    from ..utils.console import get_console

    # the message is plain text: escaped, so "pip install 'edgecv[onnx]'" keeps its [onnx]
    get_console().print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False, soft_wrap=True)


if __name__ == "__main__":
    sys.exit(main())
