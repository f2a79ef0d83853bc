"""`edgecv export`: turn a model (by name, checkpoint, or a run's student) into a deployable artifact."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    from .args import TARGET_HELP, target_name

    p = sub.add_parser(
        "export",
        help="export a model to ONNX (or any backend) without a recipe",
        description="Export a registered model (--model NAME [--checkpoint PATH]), an edgecv model file "
        "(--checkpoint FILE) or the student of a finished run (RUN_DIR) with --to BACKEND to -o FILE. The "
        "artifact is checked against PyTorch on random inputs and gets a metadata sidecar (FILE.edgecv.json).",
    )
    p.add_argument("run_dir", nargs="?", help="a run folder (its manifest's last student is exported)")
    p.add_argument("--model", help="a registered model name, e.g. cifar_resnet56, mobilenetv2_100")
    p.add_argument("--checkpoint", help="weights: an edgecv model file, or a state dict for --model")
    p.add_argument("--role", default="student", help="with RUN_DIR: which model of the run (default: student)")
    p.add_argument("--num-classes", type=int, help="classifier outputs (default: the model's or checkpoint's)")
    p.add_argument("--input-size", type=int, help="square input size in pixels (default: the model's data config)")
    p.add_argument("--small-input", action="store_true", help="with --model: the small-input (32 px) variant")
    p.add_argument("--to", default="onnx", help="backend or format: onnx (default), torch, ... (see `edgecv info`)")
    p.add_argument("--precision", default="fp32", help="precision to build (default fp32; int8 needs --calib-data)")
    p.add_argument("--calib-data", metavar="DIR", help="images for calibration (ImageFolder or a flat folder)")
    p.add_argument("--layout", choices=["NHWC", "NCHW"], help="input layout of the file, for backends that offer a "
                   "choice (tflite: NHWC by default, what mobile apps feed)")
    p.add_argument("--target", type=target_name, default="host", metavar="NAME", help=TARGET_HELP)
    p.add_argument("--class-names", metavar="FILE", help="what the outputs are called, stored in the artifact: one "
                   "name per line, or a JSON list (default: the checkpoint's or run's names, if any)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the artifact")
    p.set_defaults(func=_export)


def _export(args) -> int:
    _refuse_output_over_input(args)
    from rich.markup import escape

    from edgecv.app import export
    from edgecv.utils.console import get_console

    res = export(load_source(args), args.output, to=args.to, precision=args.precision, calib_data=args.calib_data,
                 layout=args.layout, input_size=args.input_size, target=args.target,
                 class_names=args.class_names)
    art, out, p = res.artifact, res.path, res.parity
    con = get_console()
    con.print(f"[green]exported[/] {escape(str(art.metadata.source_model))} -> {escape(str(out))} ({res.size_mb:.2f} MB, "
              f"{art.backend} {art.precision}, input {art.metadata.input_shape}, target {escape(_target(art))})")
    weights = (art.metadata.extra.get("quantization") or {}).get("weights")
    if weights:
        con.print(f"  INT8 weights: {escape(weights)}", markup=True, highlight=False)
    con.print(f"  parity with PyTorch on random inputs: top-1 agreement {p['agreement']:.1f}%, max |diff| {p['max_abs_diff']:.2e}")
    if art.metadata.extra.get("trtexec"):  # backends that build through TensorRT record the equivalent trtexec line
        con.print(f"  equivalent trtexec command: {escape(art.metadata.extra['trtexec'])}")
    return 0


def _target(art) -> str:
    from edgecv.targets import recorded_target

    built = recorded_target(art.metadata.target)
    return built.describe() if built else "unrecorded"


def load_source(args):
    """Where the model to export comes from: RUN_DIR, --checkpoint or --model (loaded by `export` after its
    checks of the backend and the output)."""
    from edgecv.app import ModelSource
    from edgecv.cli import UserError

    if args.run_dir and (args.model or args.checkpoint):
        raise UserError("give either RUN_DIR or --model/--checkpoint, not both")
    if not (args.run_dir or args.model or args.checkpoint):
        raise UserError("nothing to export: give RUN_DIR, --model NAME or --checkpoint FILE")
    return ModelSource(args.run_dir or args.model, checkpoint=args.checkpoint, role=args.role,
                       num_classes=args.num_classes, small_input=args.small_input)


def _refuse_output_over_input(args) -> None:
    """-o must not replace what is being exported: --checkpoint, or any model file of RUN_DIR."""
    from edgecv.cli import UserError
    from edgecv.cli.args import refuse_output_over_input, same_file

    refuse_output_over_input(args.output, checkpoint=args.checkpoint, model=args.model)  # --model may be a file
    if args.run_dir:
        for f in Path(args.run_dir).glob("stages/*/models/*"):
            if same_file(args.output, f):
                raise UserError(f"-o must differ from the input file: {args.output} is {f}, a model file of the run {args.run_dir}")
