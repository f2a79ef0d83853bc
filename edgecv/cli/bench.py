"""`edgecv bench ARTIFACT`: latency, accuracy and parity of any artifact, including files edgecv did not make."""
from __future__ import annotations

from pathlib import Path

from edgecv.bench import INT8_MIN_AGREEMENT  # a constant of the (lazily loaded) bench package


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
    p.add_argument("--min-agreement", type=float, default=99.0, help="%% top-1 agreement below which a float row is 'inaccurate' "
                   "(default 99; integer rows: --min-int8-agreement)")
    p.add_argument("--max-top1-drop", type=float, default=1.0, help="top-1 points below PyTorch that make a row 'inaccurate'")
    p.add_argument("--min-int8-agreement", type=float, default=INT8_MIN_AGREEMENT,
                   help="%% top-1 agreement with the FP32 source below which an integer (INT8) row is 'inaccurate' "
                   "(default %(default)s; --min-agreement judges the other rows)")
    g = p.add_argument_group("PyTorch model files (.pt) on a GPU", "run the same file another way (nothing is written; "
                             "parity is checked against the file in eager FP32 on the CPU); CUDA rows add compute, H2D "
                             "and D2H times measured with CUDA events")
    g.add_argument("--device", metavar="cpu|cuda", help="where to run it (cuda or cuda:N: an NVIDIA GPU)")
    g.add_argument("--precision", choices=["fp32", "fp16", "bf16"], help="the runtime dtype (fp16 on the CPU only "
                   "where PyTorch runs it; bf16 on CUDA needs compute capability 8.0+)")
    g.add_argument("--channels-last", action="store_true", default=None, help="NHWC memory format for weights and inputs")
    g.add_argument("--cuda-graphs", action="store_true", default=None,
                   help="capture one CUDA graph per batch size after a warm-up and replay it (--device cuda)")
    g.add_argument("--compile", action="store_true", default=None, help="torch.compile the model (compiles per batch size "
                   "during the warm-up)")
    g.add_argument("--compile-mode", metavar="MODE", help="torch.compile mode: default, reduce-overhead, max-autotune, "
                   "max-autotune-no-cudagraphs (implies --compile)")
    g.add_argument("--tf32", action="store_true", default=None, help="let fp32 on CUDA round through TF32 (off by "
                   "default: fp32 means fp32, as in TensorRT's fp32 engines)")
    e = p.add_argument_group("on an emulated CPU", "check the artifact's accuracy on another CPU class under QEMU "
                             "user-mode emulation, with that CPU's builds of ONNX Runtime and LiteRT: the host row is followed "
                             "by one row per class, marked `emulated`, with top-1, agreement and how many images' top-1 "
                             "differ from the host's; no latency (emulated time is not the target's). The first use "
                             "sets the target up under ~/.edgecv/emulate (see `edgecv emulate`)")
    e.add_argument("--emulate", metavar="CLASS[,CLASS]", help="arm64 (= arm64-a76), arm64-a53 (no dotprod), arm64-a76 "
                   "(dotprod), arm64-i8mm (i8mm), x86-avx2 (x86-64 without AVX-512/VNNI, on an x86-64 host); "
                   "comma-separated for several")
    e.add_argument("--emulate-images", type=positive_int, metavar="N", help="evaluate the emulated rows on a seeded, "
                   "stratified subset of about N images of --data (default: all of them; emulation is slow)")
    r = p.add_argument_group("on another machine", "run the same benchmark on a target over SSH (a Jetson, say): the "
                             "files are copied to a temporary folder there, and the rows come back with the target's "
                             "fingerprint")
    r.add_argument("--remote", metavar="USER@HOST", help="benchmark on this SSH target (key login; ~/.ssh/config applies)")
    r.add_argument("--remote-python", default="python3", metavar="PATH",
                   help="the target's python that has edgecv (default: python3), e.g. ~/venv/bin/python")
    r.add_argument("--remote-key", metavar="FILE", help="SSH private key (ssh -i)")
    r.add_argument("--remote-port", type=positive_int, metavar="N", help="SSH port (ssh -p)")
    r.add_argument("--remote-ssh-opt", action="append", default=[], metavar="KEY=VALUE",
                   help="an ssh option (ssh -o), repeatable, e.g. StrictHostKeyChecking=accept-new")
    r.add_argument("--tegrastats", action="store_true", help="also measure average power and energy per image with "
                   "the Jetson's tegrastats while each batch size runs for --power-time seconds")
    r.add_argument("--tegrastats-cmd", default="tegrastats", metavar="CMD",
                   help="how to run tegrastats there (default: tegrastats), e.g. 'sudo -n /usr/bin/tegrastats'")
    r.add_argument("--power-time", type=float, default=5.0, metavar="S", help="seconds of inference per batch size "
                   "while measuring power (default 5; after 2 s of idle power)")
    p.set_defaults(func=_bench)


def _bench(args) -> int:
    from edgecv.app import BenchmarkOptions, benchmark
    from edgecv.bench import Thresholds, TimingConfig
    from edgecv.cli import UserError
    from edgecv.utils.paths import check_output_file, check_output_folder

    batches = _ints(args.batch, "--batch")
    if args.out:  # outputs are checked before the benchmark, not after it
        check_output_folder(args.out, "--out")
        if Path(args.out).exists() and any(Path(args.out).iterdir()):
            raise FileExistsError(f"--out {args.out} exists and is not empty; choose a new folder")
    if args.json:
        check_output_file(args.json, "--json")
    if args.class_map and not args.data:
        raise UserError("--class-map needs --data")
    emulate = _emulate_targets(args)
    if args.remote:
        return _report(args, *_bench_remote(args, batches))
    res = benchmark(args.artifact, BenchmarkOptions(
        batches=batches, threads=args.threads, data=args.data, class_map=args.class_map, reference=args.reference,
        crop_pct=args.crop_pct, timing=TimingConfig(args.warmup, args.min_runs, args.min_time),
        thresholds=Thresholds(args.min_agreement, args.max_top1_drop, args.min_int8_agreement),
        backend=args.backend, layout=args.layout, mean=_floats(args.mean, "--mean") if args.mean else None,
        std=_floats(args.std, "--std") if args.std else None, size=args.size,
        precision=args.precision, runtime=_runtime_options(args),
        tegrastats=args.tegrastats_cmd if args.tegrastats else None, power_time=args.power_time,
        emulate=emulate, emulate_images=args.emulate_images))
    return _report(args, res.rows, res.environment)


def _emulate_targets(args) -> list[str]:
    """--emulate's classes, checked against the other flags before anything runs."""
    from edgecv.cli import UserError

    if not args.emulate:
        if args.emulate_images:
            raise UserError("--emulate-images needs --emulate")
        return []
    from edgecv.app.emulate import parse_targets

    names = parse_targets(args.emulate)
    for flag, given in (("--remote", args.remote), ("--tegrastats", args.tegrastats)):
        if given:
            raise UserError(f"--emulate runs the artifact on this machine under QEMU; it does not combine with {flag}")
    if args.precision or _runtime_options(args):
        raise UserError("--emulate runs .onnx and .tflite files as built; it does not take the PyTorch run-time flags")
    return names


def _bench_remote(args, batches: list[int]) -> tuple[list[dict], dict]:
    """`--remote`: the same bench on the target; the bench flags pass through, the files are copied."""
    from edgecv.app.remote import RemoteBench, SSHTarget, bench_remote

    import sys

    for flag, text in (("--mean", args.mean), ("--std", args.std)):
        if text:
            _floats(text, flag)  # refused here, before anything is copied
    target = SSHTarget(args.remote, python=args.remote_python, key=args.remote_key, port=args.remote_port,
                       options=tuple(args.remote_ssh_opt))
    flags = ["--batch", ",".join(map(str, batches)), "--warmup", str(args.warmup), "--min-runs", str(args.min_runs),
             "--min-time", str(args.min_time), "--crop-pct", str(args.crop_pct),
             "--min-agreement", str(args.min_agreement), "--max-top1-drop", str(args.max_top1_drop)]
    if args.min_int8_agreement != INT8_MIN_AGREEMENT:  # only when set: a target with an older edgecv lacks the flag
        flags += ["--min-int8-agreement", str(args.min_int8_agreement)]
    for flag, value in (("--threads", args.threads), ("--backend", args.backend), ("--mean", args.mean),
                        ("--std", args.std), ("--size", args.size), ("--layout", args.layout)):
        if value is not None:
            flags += [flag, str(value)]
    flags += _runtime_flags(args)  # --device, --precision, ...: applied there
    if args.tegrastats and _runtime_flags(args):
        from edgecv.cli import UserError

        raise UserError("--tegrastats with --remote measures the file as built; it does not take "
                        + ", ".join(w for w in _runtime_flags(args) if w.startswith("--")))
    bench = RemoteBench(flags, data=args.data, class_map=args.class_map, reference=args.reference, backend=args.backend,
                        tegrastats=args.tegrastats_cmd if args.tegrastats else None,
                        power_args=["--power-time", str(args.power_time)])
    return bench_remote(target, args.artifact, bench, log=lambda m: print(m, file=sys.stderr))


def _report(args, rows: list[dict], env: dict) -> int:
    """The table (and power lines) on the console; --json and --out files."""
    from edgecv.app.power import power_lines
    from edgecv.bench import rich_table, write_ledger
    from edgecv.utils.console import get_console
    from edgecv.utils.io import write_json

    title = f"edgecv bench {args.artifact}" + (f" on {args.remote}" if args.remote else "") + \
        (f" (+ emulated {', '.join(sorted({r['emulated'] for r in rows if r.get('emulated')}))})"
         if any(r.get("emulated") for r in rows) else "")
    con = get_console()
    if con.is_terminal:
        con.print(rich_table(rows, title=title))
    else:  # logs and pipes get the full table as markdown, never folded into a narrow box
        from edgecv.bench import markdown_table

        print(markdown_table(rows), end="")
    for line in power_lines(rows):
        print(line)
    from edgecv.bench.ledger import emulated_note

    if emulated_note(rows):
        print(emulated_note(rows))
    if args.json:
        print(f"wrote {write_json(args.json, {'environment': env, 'rows': rows})}")
    if args.out:
        files = write_ledger(args.out, rows, env, title=f"edgecv bench {Path(args.artifact).name}"
                             + (f" on {args.remote}" if args.remote else ""))
        print(f"wrote {', '.join(str(f) for f in files.values())}")
    return 0


RUNTIME_FLAGS = {"device": "--device", "channels_last": "--channels-last", "cuda_graphs": "--cuda-graphs",
                 "compile": "--compile", "compile_mode": "--compile-mode", "tf32": "--tf32"}  # torch option -> flag


def _runtime_options(args) -> dict:
    return {opt: getattr(args, opt) for opt in RUNTIME_FLAGS if getattr(args, opt) is not None}


def _runtime_flags(args) -> list[str]:
    """The torch run-time flags given, as command-line words (for the same bench elsewhere)."""
    words = ["--precision", args.precision] if args.precision else []
    for opt, value in _runtime_options(args).items():
        words += [RUNTIME_FLAGS[opt]] if value is True else [RUNTIME_FLAGS[opt], str(value)]
    return words


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
