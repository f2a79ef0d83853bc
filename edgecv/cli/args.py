"""argparse helpers shared by the commands: value types that refuse bad sizes, and path checks."""
from __future__ import annotations

import argparse
import os
from pathlib import Path


def positive_int(text: str) -> int:
    """An argparse `type` for counts such as --threads: an integer >= 1 (0 and negatives are refused)."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def target_name(text: str) -> str:
    """An argparse `type` for --target: 'host' or a named target (edgecv.targets), with a did-you-mean."""
    from edgecv.targets import check_target_name

    try:
        return check_target_name(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


TARGET_HELP = ("the CPU the artifact is for (default: host, this machine): x86-vnni, x86-avx2 (x86 without VNNI: "
               "ONNX Runtime INT8 gets 7-bit weights), arm64-a53, arm64-a76, arm64-i8mm, jetson; recorded in its metadata")


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when `a` and `b` name the same file: equal resolved paths (symlinks followed), or the
    same inode (hard links)."""
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    if pa.resolve() == pb.resolve():
        return True
    try:
        return os.path.samefile(pa, pb)
    except OSError:  # one of them does not exist (yet)
        return False


def refuse_output_over_input(output: str | os.PathLike | None, **inputs: str | os.PathLike | None) -> None:
    """Raise a UserError when -o names one of the inputs (e.g. checkpoint=args.checkpoint); the flag
    names in the message come from the keyword names."""
    from . import UserError

    if not output:
        return
    for flag, path in inputs.items():
        if path and same_file(output, path):
            shown = flag if flag.isupper() else f"--{flag.replace('_', '-')}"  # ARTIFACT: a positional argument
            raise UserError(f"-o must differ from the input file: {output} is the {shown} {path}")
