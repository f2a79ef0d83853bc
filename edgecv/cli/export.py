"""`edgecv export`: turn a model (by name, checkpoint, or a run's student) into a deployable artifact."""
from __future__ import annotations

import json
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
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the artifact")
    p.set_defaults(func=_export)


def _export(args) -> int:
    import numpy as np
    import torch

    from edgecv.backends import BACKENDS, Artifact
    from edgecv.cli import UserError
    from edgecv.export import build_artifact, resolve_backend
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

    model, source, pre = load_source(args)
    size = args.input_size or pre.get("image_size") or _default_size(model)
    sample = torch.zeros(1, 3, size, size)
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

    # Check the artifact against its PyTorch source before telling the user it is done.
    from edgecv.backends.torch_eager import module_runner
    from edgecv.bench.accuracy import parity, run_all

    x = np.random.default_rng(0).standard_normal((4, 3, size, size)).astype(np.float32)
    runner = b.load(art)
    fixed = art.metadata.input_shape[0] if isinstance(art.metadata.input_shape[0], int) else None
    p = parity(run_all(runner, [x], fixed), module_runner(model)(x))
    con.print(f"[green]exported[/] {art.metadata.source_model} -> {out} ({out.stat().st_size / 1e6:.2f} MB, "
              f"{backend} {art.precision}, input {art.metadata.input_shape})")
    con.print(f"  parity with PyTorch on random inputs: top-1 agreement {p['agreement']:.1f}%, max |diff| {p['max_abs_diff']:.2e}")
    return 0


def load_source(args):
    """(model, checkpoint path or None, preprocessing dict) from RUN_DIR, --checkpoint or --model."""
    from edgecv.cli import UserError
    from edgecv.models import create_model, data_config, load_model
    from edgecv.models.factory import CHECKPOINT_FORMAT, read_checkpoint

    pre: dict = {}
    if args.run_dir:
        if args.model or args.checkpoint:
            raise UserError("give either RUN_DIR or --model/--checkpoint, not both")
        path, pre = run_model_file(Path(args.run_dir), args.role)
        model, meta = load_model(path)
    elif args.checkpoint and read_checkpoint(args.checkpoint).get("format") == CHECKPOINT_FORMAT:
        path = Path(args.checkpoint)
        model, meta = load_model(path)
        if args.model and args.model != model.edgecv_spec["name"]:
            raise UserError(f"{path} holds a '{model.edgecv_spec['name']}', not the '{args.model}' given with --model")
    elif args.model:
        path = Path(args.checkpoint) if args.checkpoint else None
        model, meta = create_model(args.model, num_classes=args.num_classes, checkpoint=path, small_input=args.small_input), {}
    elif args.checkpoint:
        raise UserError(f"{args.checkpoint} is a plain state dict: pass --model NAME too (e.g. --model cifar_resnet56)")
    else:
        raise UserError("nothing to export: give RUN_DIR, --model NAME or --checkpoint FILE")
    saved = meta.get("data_config") or {}  # what the run trained with, when save_model recorded it
    for key in ("mean", "std"):
        if saved.get(key) and key not in pre:
            pre[key] = list(saved[key])
    if saved.get("input_size") and "image_size" not in pre:
        pre["image_size"] = int(saved["input_size"][-1])
    cfg = data_config(model)
    pre.setdefault("mean", list(cfg["mean"]))
    pre.setdefault("std", list(cfg["std"]))
    if meta.get("class_names"):
        pre["class_names"] = list(meta["class_names"])
    return model.eval(), (path.resolve() if path else None), pre


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
    path = Path(files[role])
    if not path.is_file() and "stages" in path.parts:  # recorded relative to where the run was started
        path = run_dir.joinpath(*path.parts[path.parts.index("stages"):])
    return path, pre


def _default_size(model) -> int:
    from edgecv.models import data_config

    return int(data_config(model)["input_size"][-1])
