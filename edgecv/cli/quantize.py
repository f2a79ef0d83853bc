"""`edgecv quantize ARTIFACT.onnx`: INT8 (QDQ) or FP16 ONNX from an FP32 ONNX file, with an accuracy budget."""
from __future__ import annotations

import argparse
from pathlib import Path

from edgecv.quantize.spec import METHODS, PRECISIONS, QuantizeSpec

DEFAULT = QuantizeSpec()  # the flags' defaults are the spec's


def register(sub) -> None:
    from .args import TARGET_HELP, positive_int, target_name

    p = sub.add_parser(
        "quantize",
        help="INT8 (calibrated QDQ) or FP16 ONNX from an FP32 ONNX file, optionally within an accuracy budget",
        description="Quantize ARTIFACT.onnx to --precision int8 (ONNX Runtime static QDQ, calibrated on --calib-data) "
        "or fp16 (FP32 inputs/outputs kept). With --budget PTS and --val-data DIR, an INT8 model more than PTS top-1 "
        "points below FP32 gets its most sensitive nodes put back into FP32 until it fits (--min-agreement PCT likewise "
        "bounds how many of those images may change their predicted class); the report lists them and "
        "what each step cost in latency. Preprocessing (size, mean, std) comes from the file's edgecv metadata, "
        "else from --mean/--std. The output is benchmarked like any artifact: edgecv bench FILE --data DIR.",
    )
    p.add_argument("artifact", help="the FP32 .onnx file")
    p.add_argument("--precision", required=True, choices=PRECISIONS)
    p.add_argument("--calib-data", metavar="DIR", help="calibration images (ImageFolder or a flat folder); needed for int8")
    p.add_argument("--method", default=DEFAULT.method, choices=METHODS,
                   help="activation calibration (default %(default)s: each image's min/max, their --image-percentile)")
    p.add_argument("--image-percentile", type=float, default=DEFAULT.image_percentile,
                   help="with --method robust_minmax: %% of calibration images whose range is covered (default %(default)s)")
    p.add_argument("--calib-size", type=positive_int, default=DEFAULT.calib_size, metavar="N",
                   help="calibration images used (default %(default)s)")
    p.add_argument("--percentile", type=float, default=DEFAULT.percentile, help="with --method percentile (default %(default)s)")
    p.add_argument("--per-tensor", action="store_true", help="one scale per weight tensor (default: per output channel)")
    p.add_argument("--activation-type", default="uint8", choices=["uint8", "int8"],
                   help="uint8: ONNX Runtime CPU's fast path (default); int8 (symmetric): for TensorRT")
    p.add_argument("--target", type=target_name, default="host", metavar="NAME", help=TARGET_HELP)
    p.add_argument("--reduce-range", action=argparse.BooleanOptionalAction, default=None,
                   help="7-bit weights (default: on for targets whose INT8 kernels saturate, i.e. x86 without VNNI)")
    p.add_argument("--weight-type", default=DEFAULT.weight_type, choices=["int8", "uint8"],
                   help="int8 (u8 x s8 kernels, default) or uint8 (U8U8: never saturates, slower on VNNI CPUs)")
    p.add_argument("--no-preprocess", action="store_true", help="skip ONNX Runtime's quant_pre_process")
    p.add_argument("--keep-fp32", metavar="LIST", help="comma-separated ONNX operator types or patterns (stem, se, "
                   "hardswish, depthwise) whose nodes stay in FP32, e.g. stem,se")
    p.add_argument("--budget", type=float, metavar="PTS", help="max top-1 points below FP32 (needs --val-data)")
    p.add_argument("--min-agreement", type=float, metavar="PCT", help="min top-1 agreement (%%) with the FP32 model's "
                   "predictions; like --budget, keeps sensitive nodes in FP32 until it holds (needs --val-data)")
    p.add_argument("--val-data", metavar="DIR", help="labelled images DIR/<class>/* to measure top-1 on")
    p.add_argument("--group-size", type=int, help="nodes put back to FP32 per budget step (default ~5%% of them)")
    p.add_argument("--mean", help="per-channel mean if the file has no edgecv metadata, e.g. 0.485,0.456,0.406")
    p.add_argument("--std", help="per-channel std, e.g. 0.229,0.224,0.225")
    p.add_argument("--threads", type=positive_int, help="ONNX Runtime threads for measurements")
    p.add_argument("--report", metavar="FILE", help="also write the report as JSON")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the quantized .onnx")
    p.set_defaults(func=_quantize)


def _quantize(args) -> int:
    from pydantic import ValidationError

    from edgecv.app import quantize
    from edgecv.cli import UserError
    from edgecv.cli.args import refuse_output_over_input
    from edgecv.cli.bench import _floats
    from edgecv.quantize.report import steps_markdown, summary_line
    from edgecv.utils.console import get_console

    con = get_console()
    src, out = Path(args.artifact), Path(args.output).expanduser()
    if not src.is_file():
        raise FileNotFoundError(f"ONNX model not found: {src}")
    if src.suffix.lower() != ".onnx":
        raise UserError(f"{src}: `edgecv quantize` takes an FP32 .onnx file (export one with `edgecv export --to onnx`)")
    if out.suffix.lower() != ".onnx":
        raise UserError(f"-o {args.output}: the quantized artifact is an ONNX file; name it *.onnx")
    refuse_output_over_input(args.output, ARTIFACT=args.artifact)
    for flag, value in (("--budget", args.budget), ("--min-agreement", args.min_agreement)):
        if value is not None and not args.val_data:
            raise UserError(f"{flag} needs --val-data DIR (labelled images to measure top-1 on)")
    if args.precision == "int8" and not args.calib_data:
        raise UserError("--precision int8 needs --calib-data DIR (a few hundred training images; not the val images)")
    try:
        spec = QuantizeSpec(precision=args.precision, method=args.method, calib_size=args.calib_size,
                            percentile=args.percentile, image_percentile=args.image_percentile, per_channel=not args.per_tensor, activation_type=args.activation_type,
                            preprocess=not args.no_preprocess, reduce_range=args.reduce_range,
                            weight_type=args.weight_type, budget=args.budget, min_agreement=args.min_agreement, group_size=args.group_size,
                            threads=args.threads, keep_fp32=_names(args.keep_fp32))
    except ValidationError as e:
        raise UserError("; ".join(f"--{'.'.join(map(str, x['loc'])).replace('_', '-')}: {x['msg'].removeprefix('Value error, ')}" for x in e.errors())) from None

    res = quantize(src, out, precision=args.precision, calib_data=args.calib_data, val_data=args.val_data,
                   mean=_floats(args.mean, "--mean") if args.mean else None,
                   std=_floats(args.std, "--std") if args.std else None, spec=spec, log=con.print, target=args.target)
    rep = res.report
    from rich.markup import escape

    con.print(f"[green]wrote[/] {escape(str(out))} ({out.stat().st_size / 1e6:.2f} MB, {args.precision}); {escape(summary_line(rep))}")
    if rep.get("steps"):
        print(steps_markdown(rep["steps"]), end="")
    if (rep.get("budget") is not None or rep.get("min_agreement") is not None) and not rep.get("budget_met"):
        con.print(f"[yellow]budget not met[/] with {len(rep.get('kept_fp32') or [])} node(s) in FP32: try "
                  "--keep-fp32 stem,se, another --method or --calib-size, or QAT (the recipe's quantize stage, qat: {mode: always})")
    if args.report:
        from edgecv.utils.io import write_json

        print(f"wrote {write_json(args.report, rep)}")
    return 0


def _names(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]
