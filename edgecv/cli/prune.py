"""`edgecv prune`: structured pruning of one model without a recipe; writes an edgecv model file."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    from edgecv.prune.importance import IMPORTANCES

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
    p.add_argument("--importance", default="l2", choices=IMPORTANCES.names(), help="channel importance (default l2)")
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
    from rich.markup import escape

    from edgecv.app import ModelSource, PruneOptions, prune
    from edgecv.cli import UserError
    from edgecv.models import model_name
    from edgecv.prune.importance import importance
    from edgecv.prune.iterative import steps_markdown
    from edgecv.prune.spec import PruneSpec, SensitivitySpec
    from edgecv.utils.console import get_console

    out = Path(args.output).expanduser()
    if out.suffix != ".pt":
        raise UserError(f"-o {args.output}: the pruned model is an edgecv model file; name it *.pt")
    if not args.finetune_data:
        for flag in ("teacher", "teacher_checkpoint"):
            if getattr(args, flag):
                raise UserError(f"--{flag.replace('_', '-')} is for KD fine-tuning: give --finetune-data DIR too")
    if not (args.model or args.checkpoint):
        raise UserError("--model/--checkpoint: give a model name or an edgecv model file")
    spec = _spec(
        PruneSpec, SensitivitySpec,
        macs_ratio=args.macs_ratio, params_ratio=args.params_ratio, latency_ms=args.latency_ms, latency_ratio=args.latency_ratio, backend=args.backend,
        threads=args.threads, importance=args.importance, allocation=args.allocation, round_to=args.round_to,
        max_layer_ratio=args.max_layer_ratio, ignore=args.ignore, steps=args.steps, final_epochs=args.final_epochs,
        finetune={"epochs": args.epochs, "lr": args.lr, "amp": args.amp, "channels_last": args.channels_last,
                  "mixup": args.mixup, "cutmix": args.cutmix},
        sensitivity=True if args.sensitivity else None,
    )
    if importance(spec.importance).needs_gradients and not args.finetune_data:
        raise UserError(f"--importance {spec.importance} needs gradients from labelled images: give --finetune-data DIR")
    model = ModelSource(args.model, checkpoint=args.checkpoint, num_classes=args.num_classes, small_input=args.small_input)
    teacher = None if args.no_kd else (
        ModelSource(args.teacher, checkpoint=args.teacher_checkpoint, num_classes=args.num_classes,
                    small_input=args.small_input) if args.teacher or args.teacher_checkpoint else "self")
    result = prune(model, out, PruneOptions(
        spec=spec, finetune_data=args.finetune_data, batch_size=args.batch_size, max_train=args.max_train,
        max_val=args.max_val, image_size=args.image_size, teacher=teacher, log_dir=args.log_dir, device=args.device,
        seed=args.seed))
    print(steps_markdown(result.steps))
    get_console().print(f"[green]pruned[/] {escape(model_name(result.model))} -> {escape(str(out))}")
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
