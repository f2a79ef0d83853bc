"""Class maps: which model output each data folder corresponds to, for models whose outputs are not
the data's folder order (e.g. a 1001-way ImageNet model evaluated on Imagenette folders)."""
from __future__ import annotations

import json
from pathlib import Path


def read_class_map(path: str | Path) -> dict[str, int]:
    """JSON `{"folder": index}` or a text file with `folder index` per line (# comments allowed)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"class map not found: {path}")
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"class map {path} is not valid JSON: {e}") from None
        items = list(raw.items())
    else:
        items = []
        for n, line in enumerate(text.splitlines(), start=1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2:
                raise ValueError(f"class map {path}, line {n}: expected 'folder_name index', got {line!r}")
            items.append((parts[0], parts[1]))
    out: dict[str, int] = {}
    for name, idx in items:
        try:
            out[str(name)] = int(idx)
        except (TypeError, ValueError):
            raise ValueError(f"class map {path}: index of '{name}' must be an integer, got {idx!r}") from None
        if out[str(name)] < 0:
            raise ValueError(f"class map {path}: index of '{name}' is negative")
    if not out:
        raise ValueError(f"class map {path} is empty")
    return out
