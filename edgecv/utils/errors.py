"""One line of an exception for a user: the message's first line, clipped, or the type's name."""
from __future__ import annotations


def first_line(e: BaseException, limit: int = 300) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:limit] if text else type(e).__name__
