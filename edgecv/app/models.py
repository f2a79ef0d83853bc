"""`load_model`, edgecv's one: a model by registered name, from an edgecv model file, or from a run folder."""
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

    def __iter__(self):
        """`model, entries = edgecv.load_model(path)` unpacks as the model and the file's entries."""
        return iter((self.model, self.meta))


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from, as `load_model` takes it: a workflow loads it after its cheap checks."""
    source: str | Path | None = None  # a registered name, an edgecv model file or a run folder
    checkpoint: str | Path | None = None  # an edgecv model file, or a plain state dict for the name
    role: str = "student"  # with a run folder: which of its models
    num_classes: int | None = None
    small_input: bool = False

    def load(self) -> "LoadedModel":
        return load_model(self.source, checkpoint=self.checkpoint, role=self.role, num_classes=self.num_classes,
                          small_input=self.small_input)


def resolve_model(model) -> "LoadedModel":
    """A LoadedModel from what a workflow is given: a LoadedModel, a ModelSource, an nn.Module edgecv built
    (its preprocessing from its data config), or what `load_model` takes (a name, a file, a run folder)."""
    if isinstance(model, LoadedModel):
        return model
    if isinstance(model, ModelSource):
        return model.load()
    if isinstance(model, (str, Path)):
        return load_model(model)
    if not callable(model) or not hasattr(model, "state_dict"):
        raise TypeError(f"expected a model (a LoadedModel, an nn.Module, a name or a file), got {type(model).__name__}")
    return LoadedModel(model.eval(), None, _preprocess(model, {}, {}), {})


def load_model(source: str | Path | None = None, *, checkpoint: str | Path | None = None, role: str = "student",
               num_classes: int | None = None, small_input: bool = False) -> LoadedModel:
    """One way in for every command:

    - a run folder: the newest saved `role` model of the run, with the run's preprocessing;
    - an edgecv model file (`source` or `checkpoint`): the file says what it is (pruned ones too);
    - a registered model name, optionally with a plain state dict as `checkpoint`.
    """
    from ..models import create_model, model_name
    from ..models import load_model_file as load_file
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
