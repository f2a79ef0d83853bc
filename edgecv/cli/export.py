"""`edgecv export`: turn a model (by name, checkpoint, or a run's student) into a deployable artifact."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path


def register(sub) -> None:
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
    p.add_argument("--class-names", metavar="FILE", help="what the outputs are called, stored in the artifact: one "
                   "name per line, or a JSON list (default: the checkpoint's or run's names, if any)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the artifact")
    p.set_defaults(func=_export)


def _export(args) -> int:
    from edgecv.utils.paths import check_output_file

    check_output_file(args.output, "-o")
    _refuse_output_over_input(args)
    import numpy as np
    import torch

    from edgecv.app import Predictor
    from edgecv.backends import BACKENDS, Artifact, resolve_backend
    from edgecv.backends.build import build_artifact
    from edgecv.cli import UserError
    from edgecv.utils.console import get_console

    con = get_console()
    backend = resolve_backend(args.to)
    b = BACKENDS.get(backend)
    out = Path(args.output).expanduser().resolve()
    if out.suffix.lower() != b.suffix:
        raise UserError(f"-o {args.output}: the {backend} backend writes '{b.suffix}' files; name the output *{b.suffix}")
    ok, why = b.available()
    if not ok:
        raise UserError(f"backend '{backend}' is not available here: {why}")

    loaded = load_source(args)
    model, source, pre = loaded.model, loaded.path, loaded.preprocess
    size = args.input_size or loaded.image_size
    sample = torch.zeros(1, 3, size, size)
    if args.class_names:
        pre["class_names"] = _class_names(args.class_names, model, sample)
    calibration = None
    if args.calib_data:
        from edgecv.data import CalibrationSource

        calibration = CalibrationSource.from_folder(args.calib_data, size, pre["mean"], pre["std"])
        calibration.check_shape(["batch", 3, size, size])

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        res = build_artifact(backend, model, sample, tmp, args.precision, calibration,
                             {"mean": pre["mean"], "std": pre["std"], "class_names": pre.get("class_names")},
                             options={"layout": args.layout})
        if res.status != "ok":
            raise UserError(f"{res.status}: {res.error}")
        art = res.artifact
        art.path.replace(out)  # same folder, so an atomic rename
        art = Artifact(out, art.backend, art.metadata)
        if source:
            art.metadata.extra["source_checkpoint"] = str(source)
        art.save_metadata()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # Check the artifact against its PyTorch source, through the Predictor every command uses, before
    # telling the user it is done.
    from edgecv.backends.torch_eager import module_runner
    from edgecv.eval.logits import parity

    x = np.random.default_rng(0).standard_normal((4, 3, size, size)).astype(np.float32)
    p = parity(Predictor(art).logits(x), module_runner(model)(x))
    from rich.markup import escape

    con.print(f"[green]exported[/] {escape(str(art.metadata.source_model))} -> {escape(str(out))} ({out.stat().st_size / 1e6:.2f} MB, "
              f"{backend} {art.precision}, input {art.metadata.input_shape})")
    con.print(f"  parity with PyTorch on random inputs: top-1 agreement {p['agreement']:.1f}%, max |diff| {p['max_abs_diff']:.2e}")
    if art.metadata.extra.get("trtexec"):  # backends that build through TensorRT record the equivalent trtexec line
        con.print(f"  equivalent trtexec command: {escape(art.metadata.extra['trtexec'])}")
    return 0


def _class_names(path: str, model, sample) -> list[str]:
    """--class-names FILE, refused unless it names every output of the model."""
    import torch

    from edgecv.bench.classmap import read_class_names
    from edgecv.cli import UserError

    names = read_class_names(path)
    with torch.no_grad():
        outputs = model(sample).shape[1]
    if len(names) != outputs:
        raise UserError(f"--class-names {path} has {len(names)} names but the model has {outputs} outputs")
    return names


def load_source(args):
    """The model to export (with its source file and preprocessing) from RUN_DIR, --checkpoint or --model."""
    from edgecv.app import load_model
    from edgecv.cli import UserError

    if args.run_dir and (args.model or args.checkpoint):
        raise UserError("give either RUN_DIR or --model/--checkpoint, not both")
    if not (args.run_dir or args.model or args.checkpoint):
        raise UserError("nothing to export: give RUN_DIR, --model NAME or --checkpoint FILE")
    return load_model(args.run_dir or args.model, checkpoint=args.checkpoint, role=args.role,
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
