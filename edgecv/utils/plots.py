"""Saving matplotlib figures: headless (Agg), atomic, and the figure is closed afterwards."""
from __future__ import annotations

from pathlib import Path

from .io import atomic_path


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: str | Path, dpi: int | None = None) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", **({"dpi": dpi} if dpi else {}))
    pyplot().close(fig)
    return path
