"""`prune`: one model -> a structurally pruned edgecv model file, fine-tuned with KD between steps on an
image folder (the unpruned model, or another, teaching), to a MACs, params or latency target.

    res = prune("cifar_resnet56", "pruned.pt", macs_ratio=0.5, steps=3, finetune_data="cifar10/")
    res = prune(load_model("r56.pt"), "pruned.pt", PruneOptions(spec=PruneSpec(latency_ratio=0.6), ...))
    res.steps, res.met, res.files["model"]

The recipe's prune stage runs the same `prune_model` on the run's loaders and teachers.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..prune.spec import PruneSpec


@dataclass(frozen=True)
class PruneOptions:
    spec: PruneSpec | None = None  # the target (exactly one), importance, steps, fine-tune...
    finetune_data: str | Path | None = None  # a folder with train/<class>/* and val/<class>/*
    batch_size: int = 64
    max_train: int | None = None  # a stratified subset of the training images
    max_val: int | None = None
    image_size: int | None = None  # default: the model's
    teacher: Any = "self"  # the KD teacher: "self" (the unpruned model), None (labels only), or a model
    log_dir: str | Path | None = None  # step tables, scan plots and fine-tune logs
    device: str = "cpu"
    seed: int = 0


def prune(model, output: str | Path | None = None, options: PruneOptions | None = None, **fields):
    """Prune `model` (what `export` takes; a name is built for the data's classes) in place and save it
    to `output` (an edgecv model file that `load_model` rebuilds). `fields` are PruneOptions fields or
    PruneSpec keys (e.g. macs_ratio=0.5). Returns the PruneResult (steps, target met, files)."""
    from ..models import save_model
    from ..prune.iterative import PruneRun, prune_model
    from ..prune.spec import PruneSpec
    from ..utils.options import with_fields

    spec_keys = {k: fields.pop(k) for k in list(fields) if k in PruneSpec.model_fields}
    opts = with_fields(PruneOptions, options, fields, "prune")
    spec = opts.spec or PruneSpec(**spec_keys)
    if opts.spec is not None and spec_keys:
        spec = PruneSpec.model_validate({**spec.model_dump(exclude_unset=True), **spec_keys})
    if output is not None and Path(output).suffix != ".pt":
        raise ValueError(f"{output}: the pruned model is an edgecv model file; name it *.pt")
    from ..prune.history import require_torch_pruning
    from ..prune.importance import importance

    require_torch_pruning()  # before any model or data is loaded
    loaded, data = _model_and_data(model, opts)
    if importance(spec.importance).needs_gradients and data is None:
        raise ValueError(f"importance '{spec.importance}' needs gradients from labelled images: give finetune_data")
    size = opts.image_size or (data.image_size if data else loaded.image_size)
    run = PruneRun(input_shape=(1, 3, size, size), out_dir=opts.log_dir, device=opts.device, seed=opts.seed)
    if data is not None:
        from ..data.loaders import make_loader

        run = dataclasses.replace(run, train_loader=make_loader(data.train, opts.batch_size, True, opts.seed),
                                  val_loader=make_loader(data.val, 256, False, opts.seed))
        if opts.teacher is not None:
            from ..distill import renormalize_for

            teacher = copy.deepcopy(loaded.model) if opts.teacher == "self" else _teacher(opts.teacher, data)
            run = dataclasses.replace(run, teacher=teacher, teacher_input=renormalize_for(teacher, data.mean, data.std))
    result = prune_model(loaded.model, spec, run)
    if output is not None:
        extra = {"prune_steps": result.steps, "image_size": size}  # the history goes in as a checkpoint extension
        if data is not None:
            extra["class_names"] = data.class_names
        result.files["model"] = str(save_model(loaded.model, Path(output).expanduser(), extra))
    return result


def _model_and_data(model, opts: PruneOptions):
    """(LoadedModel, DataBundle or None). An edgecv model file is loaded first: its preprocessing shapes
    the data; a registered name is built after the data, for its class count."""
    from .models import LoadedModel, ModelSource, resolve_model

    source = ModelSource(model) if isinstance(model, (str, Path)) else model
    if not isinstance(source, ModelSource) or _is_model_file(source):
        loaded = resolve_model(source)
        pre = loaded.preprocess
        config = {"input_size": (3, pre["image_size"], pre["image_size"]), "mean": pre["mean"], "std": pre["std"]}
        return loaded, _data(opts, config)
    data = _data(opts, _named_config(source))
    classes = source.num_classes or (data.num_classes if data is not None else None)
    loaded: LoadedModel = dataclasses.replace(source, num_classes=classes).load()
    outputs = (getattr(loaded.model, "edgecv_spec", None) or {}).get("num_classes")
    if data is not None and outputs not in (None, data.num_classes):
        raise ValueError(f"the model has {outputs} outputs but {opts.finetune_data} has {data.num_classes} classes")
    return loaded, data


def _is_model_file(source) -> bool:
    """Whether the source is an edgecv model file (it says what it is), not a name with a state dict."""
    from ..models.factory import CHECKPOINT_FORMAT, read_checkpoint

    named_file = source.source is not None and Path(source.source).is_file()
    return named_file or bool(source.checkpoint and read_checkpoint(source.checkpoint).get("format") == CHECKPOINT_FORMAT)


def _named_config(source) -> dict | None:
    """The input config of a registered name (the class count does not change it)."""
    from ..models import create_model, data_config

    if source.source is None:
        return None
    return data_config(create_model(str(source.source), num_classes=2, small_input=source.small_input))


def _data(opts: PruneOptions, input_config: dict | None):
    if not opts.finetune_data:
        return None
    from ..data import DataSpec, build_data

    root = Path(opts.finetune_data)
    if not (root / "train").is_dir() or not (root / "val").is_dir():
        raise FileNotFoundError(f"--finetune-data {root}: expected {root}/train/<class>/* and {root}/val/<class>/*")
    spec = DataSpec(source="imagefolder", root=str(root), batch_size=opts.batch_size, max_train=opts.max_train,
                    max_val=opts.max_val, image_size=opts.image_size)
    return build_data(spec, input_config, opts.seed)


def _teacher(teacher, data):
    """The KD teacher as a module: a model is used as it is, a ModelSource or a name is loaded for the
    data's class count."""
    from .models import ModelSource, resolve_model

    if isinstance(teacher, (str, Path)):
        teacher = ModelSource(teacher)
    if isinstance(teacher, ModelSource) and teacher.num_classes is None and not _is_model_file(teacher):
        teacher = dataclasses.replace(teacher, num_classes=data.num_classes)
    try:
        return resolve_model(teacher).model
    except ValueError as e:
        raise ValueError(f"teacher: {e}") from None
