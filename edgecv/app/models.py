"""`load_model`: a model by registered name, from an edgecv model file, or from a run folder."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class LoadedModel:
    model: Any  # nn.Module in eval mode
    path: Path | None  # the file the weights came from, if any
    preprocess: dict = field(default_factory=dict)  # mean, std, image_size, class_names: what it was trained with
    meta: dict = field(default_factory=dict)  # the edgecv file's entries besides the weights

    @property
    def image_size(self) -> int:
        return int(self.preprocess["image_size"])


def load_model(source: str | Path | None = None, *, checkpoint: str | Path | None = None, role: str = "student",
               num_classes: int | None = None, small_input: bool = False) -> LoadedModel:
    """One way in for every command:

    - a run folder: the newest saved `role` model of the run, with the run's preprocessing;
    - an edgecv model file (`source` or `checkpoint`): the file says what it is (pruned ones too);
    - a registered model name, optionally with a plain state dict as `checkpoint`.
    """
    from ..models import create_model, model_name
    from ..models import load_model as load_file
    from ..models.factory import CHECKPOINT_FORMAT, read_checkpoint

    name = None
    pre: dict = {}
    if source is not None and Path(source).is_dir():
        if checkpoint:
            raise ValueError("give either a run folder or a checkpoint, not both")
        path, pre = run_model_file(Path(source), role)
        model, meta = load_file(path)
    elif source is not None and Path(source).suffix in (".pt", ".pth", ".th") and Path(source).exists():
        path = Path(source)
        model, meta = load_file(path)
    else:
        name, path = (str(source) if source is not None else None), (Path(checkpoint) if checkpoint else None)
        if path is not None and read_checkpoint(path).get("format") == CHECKPOINT_FORMAT:
            model, meta = load_file(path)
            if name and name != model_name(model):
                raise ValueError(f"{path} holds a '{model_name(model)}', not the '{name}' given")
        elif name:
            model, meta = create_model(name, num_classes=num_classes, checkpoint=path, small_input=small_input), {}
        elif path is not None:
            raise ValueError(f"{path} is a plain state dict: give the model name too (e.g. --model cifar_resnet56)")
        else:
            raise ValueError("no model given: a registered name, an edgecv model file or a run folder")
    return LoadedModel(model.eval(), path.resolve() if path else None, _preprocess(model, meta, pre), meta)


def _preprocess(model, meta: dict, pre: dict) -> dict:
    """What the model was trained with (saved by the run), else its data config's defaults."""
    from ..models import data_config

    saved = meta.get("data_config") or {}
    cfg = data_config(model)
    out = dict(pre)
    for key in ("mean", "std"):
        out.setdefault(key, list(saved.get(key) or cfg[key]))
    if "image_size" not in out:
        out["image_size"] = int((saved.get("input_size") or [meta.get("image_size") or cfg["input_size"][-1]])[-1])
    if meta.get("class_names"):
        out["class_names"] = list(meta["class_names"])
    return out


def run_model_file(run_dir: Path, role: str) -> tuple[Path, dict]:
    """The newest saved file of `role` in a run, plus the run's preprocessing (mean, std, size)."""
    manifest = run_dir / "manifest.json"
    if not manifest.is_file():
        raise FileNotFoundError(f"{run_dir} is not an edgecv run folder (no manifest.json)")
    records = json.loads(manifest.read_text()).get("records", [])
    files = records[-1].get("model_files", {}) if records else {}
    if role not in files:
        raise ValueError(f"{manifest}: the last stage saved no '{role}' model (have: {', '.join(files) or 'none'})")
    pre = {}
    recipe = run_dir / "recipe.json"
    if recipe.is_file():
        data = json.loads(recipe.read_text()).get("data") or {}
        pre = {k: v for k, v in (("mean", data.get("mean")), ("std", data.get("std")), ("image_size", data.get("image_size"))) if v}
    from ..pipeline import locate_model_file

    return locate_model_file(run_dir, files[role]), pre
