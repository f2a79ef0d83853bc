"""Exceptions for a user: one line of a message, an OSError's reason and file, and the file that keeps
the full traceback of an unexpected one (the CLI prints its path instead of the trace)."""
from __future__ import annotations


def first_line(e: BaseException, limit: int = 300) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:limit] if text else type(e).__name__


def describe(e: BaseException) -> str:
    """`e` for a user: a KeyError's own text, an OSError's reason and file, 'out of memory'."""
    if isinstance(e, KeyError) and e.args:
        text = str(e.args[0])
    elif isinstance(e, MemoryError):
        text = "out of memory" + (f": {e}" if str(e) else "")
    elif isinstance(e, OSError) and e.strerror and not isinstance(e.args[0] if e.args else None, str):
        names = [str(f) for f in (e.filename, e.filename2) if f is not None]
        text = e.strerror + (f": {' -> '.join(names)}" if names else "")
    else:
        text = str(e)
    return text.strip() or type(e).__name__


def write_traceback(e: BaseException) -> str:
    """Write `e`'s full traceback to ~/.edgecv/tracebacks/ (else the temporary folder); returns the path."""
    import os
    import tempfile
    import time
    import traceback
    from pathlib import Path

    text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    name = f"traceback-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    for folder in (Path.home() / ".edgecv" / "tracebacks", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_text(text, encoding="utf-8")
            return str(path)
        except OSError:
            continue
    return "(nowhere: no writable folder)"


OUT_OF_MEMORY_SIGNS = ("failed to allocate memory", "bad_alloc", "out of memory", "cannot allocate memory")


def is_out_of_memory(e: BaseException) -> bool:
    """A MemoryError, or a runtime's own allocation failure (ONNX Runtime's arena, C++ std::bad_alloc)."""
    if isinstance(e, MemoryError):
        return True
    text = str(e).lower()
    return any(sign in text for sign in OUT_OF_MEMORY_SIGNS)
