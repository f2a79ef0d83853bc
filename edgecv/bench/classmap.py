"""Class maps: which model output each data folder corresponds to, for models whose outputs are not
the data's folder order (e.g. a 1001-way ImageNet model evaluated on Imagenette folders); and class
names files: what each output is called (`--class-names FILE`)."""
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


def read_class_names(path: str | Path) -> list[str]:
    """The names of a model's outputs, in output order: a text file with one name per line (blank lines
    and lines starting with # skipped), a JSON list, or JSON {"0": "cat", "1": "dog", ...}."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"class names file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"class names file {path} is not UTF-8 text") from None
    if text.lstrip()[:1] in ("[", "{"):
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"class names file {path} is not valid JSON: {e}") from None
        names = _from_json(raw, path)
    else:
        names = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return check_class_names(names, str(path))


def check_class_names(names, where: str) -> list[str]:
    """`names` as a list of distinct, non-empty strings, or a ValueError naming `where`."""
    names = [str(n).strip() for n in names]
    if not names:
        raise ValueError(f"{where}: no class names")
    if "" in names:
        raise ValueError(f"{where}: class name {names.index('')} is empty")
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ValueError(f"{where}: '{n}' appears twice; each output needs its own name")
        seen.add(n)
    return names


def _from_json(raw, path: Path) -> list[str]:
    if isinstance(raw, list):
        return raw
    if isinstance(raw, dict):
        try:
            by_index = {int(k): v for k, v in raw.items()}
        except (TypeError, ValueError):
            raise ValueError(f"class names file {path}: keys must be output indices (\"0\", \"1\", ...)") from None
        if sorted(by_index) != list(range(len(by_index))):
            raise ValueError(f"class names file {path}: indices must be 0..{len(by_index) - 1}, each once")
        return [by_index[i] for i in range(len(by_index))]
    raise ValueError(f"class names file {path}: expected a JSON list of names or {{index: name}}")
