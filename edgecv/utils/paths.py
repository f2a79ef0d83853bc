"""Checks on where a command will write, made before any work: a file where a folder is wanted (or on
the way to it) is one line naming it, not a NotADirectoryError traceback after the work is done."""
from __future__ import annotations

import os
from pathlib import Path


def check_output_folder(path: str | os.PathLike, what: str = "output folder") -> Path:
    """`path` can be (or become) a folder: it is not a file, and no file sits on the way to it."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{what} {path} is a file, not a folder; choose a folder")
    _check_parents(path, what)
    return path


def check_output_file(path: str | os.PathLike, what: str = "output file") -> Path:
    """`path` can be written as a file: it is not a folder, and no file sits where a folder is needed."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise IsADirectoryError(f"{what} {path} is a folder; give a file name")
    _check_parents(path, what)
    return path


def _check_parents(path: Path, what: str) -> None:
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise FileExistsError(f"{what} {path}: {parent} is a file, not a folder")
            return
