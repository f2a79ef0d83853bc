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
    except (UserError, ValueError, KeyError, FileNotFoundError, FileExistsError, RuntimeError, ImportError) as e:
        if os.environ.get("EDGECV_DEBUG"):
            raise
        from rich.markup import escape

        from ..utils.console import get_console

        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        # the message is plain text: escaped, so "pip install 'edgecv[onnx]'" keeps its [onnx]
        get_console().print(f"[bold red]error:[/] {escape(str(msg))}", markup=True, highlight=False, soft_wrap=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
