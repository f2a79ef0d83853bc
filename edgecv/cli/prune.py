"""`edgecv prune`: structured pruning of one model without a recipe; writes an edgecv model file."""
from __future__ import annotations

import copy
from pathlib import Path


def register(sub) -> None:
    from .args import positive_int

    p = sub.add_parser(
        "prune",
        help="remove whole channels to a MACs, params or latency target (with KD fine-tuning)",
        description="Prune --model (or the edgecv model file in --checkpoint) to a target in --steps steps, "
        "fine-tuning on --finetune-data between steps (KD from --teacher, or from the unpruned model). "
        "-o FILE is an edgecv model file: `edgecv export --checkpoint FILE --to onnx` rebuilds the pruned shapes.",
    )
    p.add_argument("--model", help="registered model name, e.g. cifar_resnet56 (optional when --checkpoint is an edgecv file)")
    p.add_argument("--checkpoint", help="weights: an edgecv model file, or a state dict for --model")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--macs-ratio", type=float, metavar="R", help="stop at MACs <= R x original (0 < R < 1)")
    target.add_argument("--params-ratio", type=float, metavar="R", help="stop at params <= R x original (0 < R < 1)")
    target.add_argument("--latency-ms", type=float, metavar="T", help="stop at p50 latency <= T ms on --backend")
    target.add_argument("--latency-ratio", type=float, metavar="R",
                        help="stop at p50 <= R x the unpruned model's p50 on --backend (both measured here)")
    p.add_argument("--backend", default="onnxruntime", help="where latency is measured (default onnxruntime)")
    p.add_argument("--threads", type=positive_int, default=2, help="backend threads for latency (default 2)")
    p.add_argument("--importance", default="l2", choices=["l1", "l2", "bn", "taylor"], help="channel importance (default l2)")
    p.add_argument("--allocation", default="uniform", choices=["uniform", "global"], help="per-group share (default uniform)")
    p.add_argument("--round-to", type=int, metavar="N", help="keep channel counts multiples of N (e.g. 8)")
    p.add_argument("--max-layer-ratio", type=float, default=0.9, help="most any group may lose (default 0.9)")
    p.add_argument("--ignore", action="append", default=[], metavar="LAYER", help="never prune this layer (repeatable)")
    p.add_argument("--steps", type=positive_int, default=1, help="iterative steps with a fine-tune after each (default 1)")
    p.add_argument("--finetune-data", metavar="DIR", help="ImageFolder root with train/ and val/ for fine-tuning")
    p.add_argument("--epochs", type=int, default=1, help="fine-tune epochs after each step (default 1)")
    p.add_argument("--final-epochs", type=int, default=0, help="extra fine-tune epochs at the end (default 0)")
    p.add_argument("--lr", type=float, default=0.01, help="fine-tune learning rate (default 0.01)")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--amp", default="auto", choices=["auto", "off", "fp16", "bf16"],
                   help="fine-tune autocast (auto: fp16 on CUDA, off on CPU; bf16 pays on AVX512-BF16 CPUs)")
    p.add_argument("--channels-last", action="store_true", help="fine-tune in NHWC memory format (faster convolutions)")
    p.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA", help="mixup in the fine-tunes (the teacher labels the mixed images)")
    p.add_argument("--cutmix", type=float, default=0.0, metavar="ALPHA", help="CutMix in the fine-tunes")
    p.add_argument("--max-train", type=int, help="use a stratified subset of this many training images")
    p.add_argument("--max-val", type=int, help="use a stratified subset of this many val images")
    p.add_argument("--teacher", metavar="NAME", help="KD teacher model (default: the unpruned model itself)")
    p.add_argument("--teacher-checkpoint", metavar="PATH", help="teacher weights (edgecv file, or state dict for --teacher)")
    p.add_argument("--no-kd", action="store_true", help="fine-tune on labels only")
    p.add_argument("--num-classes", type=int, help="classifier outputs (default: the data's class count)")
    p.add_argument("--small-input", action="store_true", help="the small-input (32 px) variant of --model")
    p.add_argument("--image-size", type=int, help="input size (default: the model's data config)")
    p.add_argument("--sensitivity", action="store_true", help="scan per-group sensitivity first and use it for per-layer ratios")
    p.add_argument("--log-dir", metavar="DIR", help="write step tables, scan plots and fine-tune logs here")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the pruned model (.pt)")
    p.set_defaults(func=_prune)


def _prune(args) -> int:
    from edgecv.cli.args import refuse_output_over_input

    refuse_output_over_input(args.output, checkpoint=args.checkpoint, teacher_checkpoint=args.teacher_checkpoint,
                             model=args.model, teacher=args.teacher)  # --model/--teacher may name a file
    _check_extras(args)  # before any model or data is loaded: a missing extra must not cost a pruning run
    from edgecv.cli import UserError
    from edgecv.distill import renormalize_for
    from edgecv.models import data_config, model_name, save_model
    from edgecv.prune.iterative import prune_model, steps_markdown
    from edgecv.prune.spec import PruneSpec, SensitivitySpec
    from edgecv.utils.console import get_console

    con = get_console()
    out = Path(args.output).expanduser()
    if out.suffix != ".pt":
        raise UserError(f"-o {args.output}: the pruned model is an edgecv model file; name it *.pt")
    from_file = _model_file(args)  # an edgecv model file is loaded once: its preprocessing shapes the data
    data = _data(args, from_file)
    model = from_file.model if from_file else _load(args.model, args.checkpoint, args, data, "--model/--checkpoint")
    if data is not None and _outputs(model) not in (None, data.num_classes):
        raise UserError(f"the model has {_outputs(model)} outputs but {args.finetune_data} has {data.num_classes} classes")
    spec = _spec(
        PruneSpec, SensitivitySpec,
        macs_ratio=args.macs_ratio, params_ratio=args.params_ratio, latency_ms=args.latency_ms, latency_ratio=args.latency_ratio, backend=args.backend,
        threads=args.threads, importance=args.importance, allocation=args.allocation, round_to=args.round_to,
        max_layer_ratio=args.max_layer_ratio, ignore=args.ignore, steps=args.steps, final_epochs=args.final_epochs,
        finetune={"epochs": args.epochs, "lr": args.lr, "amp": args.amp, "channels_last": args.channels_last,
                  "mixup": args.mixup, "cutmix": args.cutmix},
        sensitivity=True if args.sensitivity else None,
    )
    if spec.importance == "taylor" and data is None:
        raise UserError("--importance taylor needs gradients from labelled images: give --finetune-data DIR")
    train_loader = val_loader = teacher = teacher_input = None
    size = args.image_size or (data.image_size if data else int(data_config(model)["input_size"][-1]))
    if data is not None:
        from edgecv.data.loaders import make_loader

        train_loader = make_loader(data.train, args.batch_size, True, args.seed)
        val_loader = make_loader(data.val, 256, False, args.seed)
        if not args.no_kd:
            teacher = (_load(args.teacher, args.teacher_checkpoint, args, data, "--teacher")
                       if args.teacher or args.teacher_checkpoint else copy.deepcopy(model))
            teacher_input = renormalize_for(teacher, data.mean, data.std)
    result = prune_model(model, spec, train_loader=train_loader, val_loader=val_loader, teacher=teacher,
                         teacher_input=teacher_input, input_shape=(1, 3, size, size), out_dir=args.log_dir,
                         device=args.device, seed=args.seed)
    extra = {"prune_steps": result.steps, "image_size": size}  # the pruning history goes in as a checkpoint extension
    if data is not None:
        extra["class_names"] = data.class_names
    save_model(model, out, extra)
    print(steps_markdown(result.steps))
    from rich.markup import escape

    con.print(f"[green]pruned[/] {escape(model_name(model))} -> {escape(str(out))}")
    return 0


def _check_extras(args) -> None:
    """Pruning needs torch-pruning, and every step (the start, each step, a --latency-ms target) is
    timed on --backend: both must be installed before anything runs."""
    import importlib.util

    from edgecv.backends import BACKENDS, resolve_backend
    from edgecv.cli import UserError

    if importlib.util.find_spec("torch_pruning") is None:
        raise UserError("`edgecv prune` needs torch-pruning, which is not installed: pip install 'edgecv[prune]'")
    backend = BACKENDS.get(resolve_backend(args.backend))  # a format name such as 'onnx' works too
    ok, why = backend.available()
    if not ok:
        what = f"the --latency-ms {args.latency_ms} target" if args.latency_ms is not None else "the model before and after each step"
        extra = backend.extra
        hint = "" if "pip install" in (why or "") or not extra else f": pip install 'edgecv[{extra}]'"
        raise UserError(f"--backend {args.backend} is not available here ({why or 'not installed'}{hint}); "
                        f"`edgecv prune` times {what} on it, so install it or choose another --backend (see `edgecv info`)")


def _spec(spec_cls, sens_cls, **kw):
    """PruneSpec from flags; a validation problem becomes one line naming the flag."""
    from pydantic import ValidationError

    from edgecv.cli import UserError

    if kw.get("sensitivity"):
        kw["sensitivity"] = sens_cls()
    try:
        return spec_cls(**kw)
    except ValidationError as e:
        msgs = [f"--{'.'.join(map(str, x['loc'])).replace('_', '-') or 'options'}: {x['msg'].removeprefix('Value error, ')}"
                for x in e.errors()]
        raise UserError("; ".join(msgs)) from None


def _data(args, from_file=None):
    if not args.finetune_data:
        for flag in ("teacher", "teacher_checkpoint"):
            if getattr(args, flag):
                from edgecv.cli import UserError

                raise UserError(f"--{flag.replace('_', '-')} is for KD fine-tuning: give --finetune-data DIR too")
        return None
    from edgecv.data import DataSpec, build_data

    root = Path(args.finetune_data)
    if not (root / "train").is_dir() or not (root / "val").is_dir():
        raise FileNotFoundError(f"--finetune-data {root}: expected {root}/train/<class>/* and {root}/val/<class>/*")
    spec = DataSpec(source="imagefolder", root=str(root), batch_size=args.batch_size, max_train=args.max_train,
                    max_val=args.max_val, image_size=args.image_size)
    return build_data(spec, _input_config(args, from_file), args.seed)


def _model_file(args):
    """The LoadedModel when --model or --checkpoint is an edgecv model file (it says what it is), else None."""
    from edgecv.app import load_model
    from edgecv.cli import UserError
    from edgecv.models.factory import CHECKPOINT_FORMAT, read_checkpoint

    is_file = bool(args.model) and Path(args.model).is_file()
    if not (is_file or (args.checkpoint and read_checkpoint(args.checkpoint).get("format") == CHECKPOINT_FORMAT)):
        return None
    try:
        return load_model(args.model, checkpoint=None if is_file else args.checkpoint)
    except ValueError as e:
        raise UserError(f"--model/--checkpoint: {e}") from None


def _input_config(args, from_file) -> dict | None:
    """The model's preprocessing decides size and normalisation: what an edgecv model file was trained
    with, else the named architecture's data config."""
    from edgecv.models import create_model, data_config

    if from_file is not None:
        pre = from_file.preprocess
        return {"input_size": (3, pre["image_size"], pre["image_size"]), "mean": pre["mean"], "std": pre["std"]}
    if args.model:  # the class count does not change the input config
        return data_config(create_model(args.model, num_classes=2, small_input=args.small_input))
    return None


def _load(name, checkpoint, args, data, what):
    """An edgecv model file (its spec says what it is), or a registered model with optional state dict."""
    from edgecv.app import load_model
    from edgecv.cli import UserError

    if not name and not checkpoint:
        raise UserError(f"{what}: give a model name or an edgecv model file")
    try:
        classes = args.num_classes or (data.num_classes if data is not None else None)
        return load_model(name, checkpoint=checkpoint, num_classes=classes, small_input=args.small_input).model
    except ValueError as e:
        raise UserError(f"{what}: {e}") from None


def _outputs(model):
    return (getattr(model, "edgecv_spec", None) or {}).get("num_classes")
