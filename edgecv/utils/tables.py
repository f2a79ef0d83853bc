"""Markdown tables, the one writer every report uses (the ledger, pruning steps, quantization budget
steps, precision advice, sensitivity scans, sweeps)."""
from __future__ import annotations

from typing import Iterable, Sequence


def markdown_table(header: Sequence[str], body: Iterable[Sequence[object]], align: str | None = None) -> str:
    """A GitHub markdown table: `header` titles, `body` rows of cells (str() of each; '|' escaped), one
    line each, ending in a newline. `align` has one letter per column, 'l' or 'r' (default: no alignment)."""
    def esc(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    rule = ["---:" if a == "r" else "---" for a in (align or "l" * len(header))]
    lines = ["| " + " | ".join(map(esc, header)) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(map(esc, row)) + " |" for row in body]
    return "\n".join(lines) + "\n"
