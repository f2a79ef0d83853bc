"""`edgecv bench ARTIFACT`: latency, accuracy and parity of any artifact, including files edgecv did not make."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    from .args import positive_int

    p = sub.add_parser(
        "bench",
        help="benchmark an artifact: latency percentiles, throughput, top-1/5, parity, size",
        description="Time ARTIFACT (.onnx, .pt, ...) at each --batch size and, with --data, evaluate it on "
        "an ImageFolder whose sorted class folders are the model's classes. Preprocessing comes from the "
        "artifact's metadata, else from --mean/--std/--size/--layout. Nothing is written unless --json or --out.",
    )
    p.add_argument("artifact", help="the file to benchmark")
    p.add_argument("--data", metavar="DIR", help="labelled images: DIR/<class>/<image>")
    p.add_argument("--batch", default="1", help="comma-separated batch sizes (default 1), e.g. 1,8,32")
    p.add_argument("--threads", type=positive_int, help="intra-op threads (default: the library's choice)")
    p.add_argument("--json", metavar="FILE", help="write the rows and the environment to FILE")
    p.add_argument("--out", metavar="DIR", help="write results.json, report.md and pareto.png into a new folder DIR")
    p.add_argument("--backend", help="backend to load it with (default: from metadata or the file suffix)")
    p.add_argument("--class-map", metavar="FILE",
                   help="folder -> output index: JSON {\"folder\": 3} or lines 'folder 3'; adds top1_restricted")
    p.add_argument("--mean", help="per-channel mean, e.g. 0.485,0.456,0.406 (default: metadata, else ImageNet)")
    p.add_argument("--std", help="per-channel std, e.g. 0.229,0.224,0.225")
    p.add_argument("--size", type=int, help="square input size (default: from the file)")
    p.add_argument("--crop-pct", type=float, default=0.875, help="resize to size/crop_pct then centre-crop (images > 64 px)")
    p.add_argument("--layout", choices=["NCHW", "NHWC"], help="the file's input layout (default: detected)")
    p.add_argument("--reference", metavar="CHECKPOINT", help="edgecv model file to check parity against "
                   "(default: the source recorded by `edgecv export`)")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--min-runs", type=int, default=50)
    p.add_argument("--min-time", type=float, default=1.0, help="seconds of timed runs at least (default 1)")
    p.add_argument("--min-agreement", type=float, default=99.0, help="%% top-1 agreement below which a row is 'inaccurate'")
    p.add_argument("--max-top1-drop", type=float, default=1.0, help="top-1 points below PyTorch that make a row 'inaccurate'")
    p.set_defaults(func=_bench)


def _bench(args) -> int:
    from edgecv.app import Predictor, reference_model
    from edgecv.bench import Thresholds, TimingConfig, benchmark_artifact, fingerprint, read_class_map, rich_table, write_ledger
    from edgecv.cli import UserError
    from edgecv.utils.console import get_console
    from edgecv.utils.errors import first_line
    from edgecv.utils.io import write_json

    batches = _ints(args.batch, "--batch")
    if args.out and Path(args.out).exists() and any(Path(args.out).iterdir()):
        raise FileExistsError(f"--out {args.out} exists and is not empty; choose a new folder")
    if args.class_map and not args.data:
        raise UserError("--class-map needs --data")
    art = open_artifact(args)
    _check_batch_memory(batches, art)
    try:
        predictor = Predictor(art, threads=args.threads, crop_pct=args.crop_pct)
        data = predictor.evalset(args.data, read_class_map(args.class_map) if args.class_map else None) if args.data else None
        reference = reference_model(art, args.reference)
        timing = TimingConfig(args.warmup, args.min_runs, args.min_time)
        rows = benchmark_artifact(art, data=data, batches=batches, threads=args.threads, reference_model=reference,
                                  timing=timing, thresholds=Thresholds(args.min_agreement, args.max_top1_drop),
                                  name=Path(args.artifact).stem, runner=predictor.runner, strict=True)
    except (UserError, ValueError, KeyError, FileNotFoundError, ImportError):
        raise
    except Exception as e:  # a runtime's own exception types (e.g. onnxruntime's): no traceback for the user
        raise UserError(f"running {args.artifact} failed: {first_line(e)}") from None
    env = fingerprint(args.threads)
    con = get_console()
    if con.is_terminal:
        con.print(rich_table(rows, title=f"edgecv bench {args.artifact}"))
    else:  # logs and pipes get the full table as markdown, never folded into a narrow box
        from edgecv.bench import markdown_table

        print(markdown_table(rows), end="")
    if args.json:
        print(f"wrote {write_json(args.json, {'environment': env, 'rows': rows})}")
    if args.out:
        files = write_ledger(args.out, rows, env, title=f"edgecv bench {Path(args.artifact).name}")
        print(f"wrote {', '.join(str(f) for f in files.values())}")
    return 0


def open_artifact(args):
    """The artifact with its metadata: the sidecar if edgecv made it, else read from the file and flags."""
    from edgecv.app import open_artifact as open_file

    return open_file(args.artifact, args.backend, args.layout, _floats(args.mean, "--mean") if args.mean else None,
                     _floats(args.std, "--std") if args.std else None, args.size)


def _check_batch_memory(batches: list[int], art) -> None:
    """Refuse a --batch that cannot fit in memory before anything is allocated (the OOM killer would
    end the process with a bare 'Killed'). The estimate is in edgecv.utils.memory."""
    from edgecv.utils.memory import check_batch_memory

    chw = list(art.metadata.input_shape)[1:4]  # [batch, C, H, W]: the harness's runners take NCHW
    if len(chw) == 3 and all(isinstance(d, int) and d > 0 for d in chw):
        check_batch_memory(batches, chw, "--batch")


def _floats(text: str, flag: str) -> list[float]:
    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"{flag} {text!r}: expected comma-separated numbers, e.g. 0.5,0.5,0.5") from None
    if len(vals) == 1:
        vals *= 3
    if len(vals) != 3:
        raise ValueError(f"{flag} {text!r}: give 1 or 3 numbers")
    return vals


def _ints(text: str, flag: str) -> list[int]:
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{flag} {text!r}: expected comma-separated integers, e.g. 1,8,32") from None
    if not vals or any(v < 1 for v in vals):
        raise ValueError(f"{flag} {text!r}: batch sizes must be >= 1")
    return vals
