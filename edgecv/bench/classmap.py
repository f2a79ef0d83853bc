"""Class maps: which model output each data folder corresponds to, for models whose outputs are not
the data's folder order (e.g. a 1001-way ImageNet model evaluated on Imagenette folders); and class
names files: what each output is called (`read_class_names`, the file `--class-names FILE` takes).

`read_class_map` reads the file `edgecv bench --class-map FILE` takes. A map is made from the model's
labels file (one label per output index, synonyms separated by commas, e.g. Coral's
imagenet_labels.txt whose line 0 is "background"), so the same code serves 1000- and 1001-output
models; Imagenette's folders are named by WordNet id:

    python -m edgecv.bench.classmap --data DIR --labels imagenet_labels.txt -o class_map.json
"""
from __future__ import annotations

import argparse
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


def given_class_names(class_names) -> tuple[list[str], str]:
    """(names, how to refer to them in an error) from a class names file's path or a list of names."""
    if isinstance(class_names, (str, Path)):
        return read_class_names(class_names), f"class names file {class_names}"
    return check_class_names(class_names, "class_names"), "the class names given"


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


# The ten Imagenette classes: WordNet id -> the ImageNet class name (first synonym in the labels file).
IMAGENETTE = {
    "n01440764": "tench",
    "n02102040": "English springer",
    "n02979186": "cassette player",
    "n03000684": "chain saw",
    "n03028079": "church",
    "n03394916": "French horn",
    "n03417042": "garbage truck",
    "n03425413": "gas pump",
    "n03445777": "golf ball",
    "n03888257": "parachute",
}


def read_labels(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"labels file not found: {path}")
    labels = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    while labels and not labels[-1]:
        labels.pop()
    if not labels:
        raise ValueError(f"labels file {path} is empty")
    return labels


def label_index(labels: list[str], name: str) -> int:
    """Index of the label whose synonyms include `name` (case-insensitive)."""
    want = name.strip().lower()
    hits = [i for i, line in enumerate(labels) if want in (s.strip().lower() for s in line.split(","))]
    if not hits:
        raise KeyError(f"class '{name}' is not in the labels file")
    return hits[0]


def build_class_map(folders: list[str], labels: list[str], names: dict[str, str] | None = None) -> dict[str, int]:
    """{folder: output index}; a folder is looked up by `names[folder]`, else by its own name."""
    names = IMAGENETTE if names is None else names
    out, missing = {}, []
    for folder in folders:
        try:
            out[folder] = label_index(labels, names.get(folder, folder))
        except KeyError:
            missing.append(folder)
    if missing:
        raise ValueError(
            f"no label found for class folder(s) {', '.join(missing)}: name them after a label in the labels file "
            "or add them to the names mapping"
        )
    return out


def class_map_for_folder(data_dir: str | Path, labels_file: str | Path, names: dict[str, str] | None = None) -> dict[str, int]:
    """{class folder of `data_dir`: output index}, by name in the model's labels file."""
    from ..data.folder import class_folders

    return build_class_map(class_folders(data_dir), read_labels(labels_file), names)


def main(argv: list[str] | None = None) -> int:
    from ..utils.io import write_json

    ap = argparse.ArgumentParser(prog="python -m edgecv.bench.classmap", description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="ImageFolder whose class folders to map")
    ap.add_argument("--labels", required=True, help="the model's labels file, one label per output index")
    ap.add_argument("-o", "--output", required=True, help="class-map JSON to write ({folder: index})")
    args = ap.parse_args(argv)
    mapping = class_map_for_folder(args.data, args.labels)
    write_json(args.output, mapping)
    print(f"wrote {len(mapping)} classes to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
