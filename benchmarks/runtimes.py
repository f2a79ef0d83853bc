"""Every CPU runtime side by side: ONNX Runtime, TFLite (LiteRT), OpenVINO and ExecuTorch, with PyTorch
eager as the reference, in FP32 and INT8, batch 1, 2 threads, interleaved in one process.

    python benchmarks/runtimes.py --out /tmp/runtimes [--teacher FILE] [--quickstart FILE] [--mobilenet FILE]
        [--val-size N] [--rounds 5] [--threads 2] [--mobilenet-epochs 3] [--max-train N] [--runtimes a,b]

Models (each built for every runtime at each precision, from the same PyTorch model):
- the ResNet-56 teacher (../shared/data/teachers; --teacher takes another ResNet-56 state dict or model file);
- the quickstart student: the KD ResNet-8 of recipes/quickstart.yaml (its train and distill stages run here
  unless --quickstart gives its model file), on its own data, the digits at 16 px;
- a CIFAR MobileNet student: cifar_mobilenetv2_050 distilled from the ResNet-56 for --mobilenet-epochs
  here, unless --mobilenet gives an edgecv model file.
INT8 is each runtime's own post-training path, calibrated on the same 256 training images: ONNX Runtime
QDQ (edgecv's quantizer defaults), TFLite full integer, OpenVINO NNCF, ExecuTorch XNNPACKQuantizer.
The harness gives each row its top-1 (CIFAR-10: the 5,000 val images, or a stratified --val-size subset),
its top-1 agreement with PyTorch FP32 and its size; then all of one model's runners are timed at batch 1
in round-robin rounds (edgecv.bench.time_interleaved: p50/p90/p99 = medians of the per-round values), so
a load change hits every runtime alike. `x ORT FP32` is ONNX Runtime FP32's p50 over the row's. Timings
mean something only on an idle machine; the table says which CPU and which of its INT8 features.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared" / "data"
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
RUNTIMES = ("onnxruntime", "tflite", "openvino", "executorch")
PRECISIONS = ("fp32", "int8")
CALIBRATION_IMAGES = 256
COLUMNS = [("name", "model", "{}"), ("backend", "runtime", "{}"), ("precision", "precision", "{}"),
           ("status", "status", "{}"), ("top1", "top-1 %", "{:.2f}"), ("agreement", "agree %", "{:.2f}"),
           ("latency_ms_p50", "p50 ms", "{:.3f}"), ("latency_ms_p90", "p90 ms", "{:.3f}"),
           ("latency_ms_p99", "p99 ms", "{:.3f}"), ("spread_pct", "round spread %", "{:.1f}"),
           ("size_mb", "size MB", "{:.3f}"), ("speedup_vs_ort_fp32", "x ORT FP32", "{:.2f}")]


class Subject:
    """A model with the data it is judged on."""

    def __init__(self, label: str, model, size: int, evalset, calibration, preprocess: dict):
        self.label, self.model, self.size = label, model, size
        self.evalset, self.calibration, self.preprocess = evalset, calibration, preprocess


def cifar_subject(label: str, model, val_size: int | None) -> Subject:
    from edgecv.bench import EvalSet
    from edgecv.data import CalibrationSource
    from edgecv.data.subset import stratified_subset

    data = EvalSet.from_folder(SHARED / "cifar10" / "val", 32, MEAN, STD, crop_pct=1.0)
    if val_size:
        data = EvalSet(stratified_subset(data.dataset, val_size, 0), data.class_names, source=f"{val_size} of {data.source}")
    cal = CalibrationSource.from_folder(SHARED / "cifar10" / "train", 32, MEAN, STD, size=CALIBRATION_IMAGES)
    return Subject(label, model, 32, data, cal, {"mean": list(MEAN), "std": list(STD), "class_names": data.class_names})


def teacher_subject(args) -> Subject:
    from edgecv.app import load_model

    model = load_model("cifar_resnet56", checkpoint=args.teacher).model
    return cifar_subject("resnet56 (teacher)", model, args.val_size)


def mobilenet_subject(args, out: Path) -> Subject:
    """cifar_mobilenetv2_050 distilled from the ResNet-56 with the recipe pipeline (or --mobilenet)."""
    from edgecv.app import load_model

    path = Path(args.mobilenet) if args.mobilenet else None
    if path is None:
        import edgecv
        from edgecv.app import run_model_file
        from edgecv.recipe import validate_recipe

        raw = {
            "name": "runtimes-mobilenet", "seed": 0,
            "data": {"source": "imagefolder", "root": str(SHARED / "cifar10"), "image_size": 32, "mean": list(MEAN),
                     "std": list(STD), "batch_size": 128, "workers": 0, **({"max_train": args.max_train} if args.max_train else {})},
            "teacher": {"name": "cifar_resnet56", "checkpoint": str(args.teacher)},
            "student": {"name": "cifar_mobilenetv2_050"},
            "stages": [{"type": "distill", "epochs": args.mobilenet_epochs, "lr": 0.05, "warmup_epochs": 0.5,
                        "losses": [{"name": "kd", "temperature": 4.0, "alpha": 0.9}]}],
        }
        ctx = edgecv.run(validate_recipe(raw, "runtimes benchmark"), out_dir=out / "mobilenet")
        path = run_model_file(ctx.out_dir, "student")[0]
    model = load_model(path).model
    from edgecv.models import model_name

    return cifar_subject(f"{model_name(model)} (student)", model, args.val_size)


def quickstart_subject(args, out: Path) -> Subject:
    """The quickstart's KD student (its train + distill stages, or --quickstart), judged on the digits val
    split the quickstart uses, with its preprocessing."""
    import yaml

    from edgecv.app import load_model
    from edgecv.bench import EvalSet
    from edgecv.data import CalibrationSource, build_data
    from edgecv.data.views import eval_view
    from edgecv.models import data_config, model_name
    from edgecv.recipe import validate_recipe

    raw = yaml.safe_load((ROOT / "recipes" / "quickstart.yaml").read_text())
    raw["stages"] = [s for s in raw["stages"] if s["type"] in ("train", "distill")]
    recipe = validate_recipe(raw, "quickstart (train, distill)")
    path = Path(args.quickstart) if args.quickstart else None
    if path is None:
        import edgecv
        from edgecv.app import run_model_file

        ctx = edgecv.run(recipe, out_dir=out / "quickstart")
        path = run_model_file(ctx.out_dir, "student")[0]
    model = load_model(path).model
    data = build_data(recipe.data, data_config(model), recipe.seed)
    evalset = EvalSet(data.val, data.class_names, source="digits val (the quickstart's split)")
    cal = CalibrationSource(eval_view(data.train, data.val), CALIBRATION_IMAGES, seed=recipe.seed)
    pre = {"mean": list(data.mean), "std": list(data.std), "class_names": data.class_names}
    return Subject(f"{model_name(model)} (quickstart student)", model, data.image_size, evalset, cal, pre)


def measure(subject: Subject, out: Path, threads: int, runtimes, rounds: int) -> list[dict]:
    """Rows of the PyTorch reference and every (runtime, precision): accuracy and parity from the harness,
    batch-1 latency from interleaved rounds over all of them."""
    import torch

    from edgecv.backends import BACKENDS
    from edgecv.backends.build import build_artifact
    from edgecv.backends import module_runner
    from edgecv.bench import TimingConfig, benchmark_artifact, time_interleaved

    check = TimingConfig(warmup=0, min_runs=1, min_time_s=0.0)  # the harness's own timing: replaced below
    model, sample = subject.model.eval(), torch.zeros(1, 3, subject.size, subject.size)
    folder = out / "artifacts" / subject.label.split()[0]
    common = dict(data=subject.evalset, batches=[1], threads=threads, timing=check, name=subject.label)
    ref = build_artifact("torch", model, sample, folder / "torch", "fp32", preprocess=subject.preprocess)
    runners = {("torch", "fp32"): module_runner(model, threads)}
    rows = {("torch", "fp32"): benchmark_artifact(ref.artifact, reference_model=model, runner=runners[("torch", "fp32")],
                                                  parity=False, **common)[0]}
    failed = []
    for backend in runtimes:
        fp32 = None
        for precision in PRECISIONS:
            res = build_artifact(backend, model, sample, folder / backend, precision,
                                 subject.calibration if precision == "int8" else None,
                                 preprocess=subject.preprocess, source=fp32)
            if res.status != "ok":
                failed.append({"name": subject.label, "backend": res.backend, "precision": precision,
                               "status": res.status, "reason": res.error})
                print(f"{subject.label} {backend} {precision}: {res.status} {res.error}", flush=True)
                continue
            fp32 = res.artifact if precision == "fp32" else fp32
            runner = BACKENDS.get(res.backend).load(res.artifact, threads)
            row = benchmark_artifact(res.artifact, reference_model=model, runner=runner, **common)[0]
            print(f"{subject.label} {backend} {precision}: {row['status']} top-1 {row.get('top1')} "
                  f"agreement {row.get('agreement')} {row.get('reason') or ''}", flush=True)
            rows[(res.backend, precision)] = row
            if row["status"] in ("ok", "inaccurate"):
                runners[(res.backend, precision)] = runner
    x = subject.evalset.first(1)
    stats = time_interleaved({" ".join(k): run for k, run in runners.items()}, x, rounds,
                             TimingConfig(warmup=10, min_runs=20, min_time_s=0.3))
    for key, row in rows.items():
        if key in runners:
            row.update(stats[" ".join(key)], latency_ms_mean=None, latency_ms_std=None)
    base = rows.get(("onnxruntime", "fp32"), {}).get("latency_ms_p50")
    for row in rows.values():
        p50 = row.get("latency_ms_p50")
        row["speedup_vs_ort_fp32"] = round(base / p50, 3) if base and p50 else None
    return [*rows.values(), *failed]


def winners(rows: list[dict]) -> list[dict]:
    """Per model and precision, the fastest runtime among rows that passed the harness's checks."""
    best: dict[tuple, dict] = {}
    for r in rows:
        if r.get("status") != "ok" or not r.get("latency_ms_p50") or r["backend"] == "torch":
            continue
        key = (r["name"], r["precision"])
        if key not in best or r["latency_ms_p50"] < best[key]["latency_ms_p50"]:
            best[key] = r
    return [{"name": n, "precision": p, "backend": r["backend"], "latency_ms_p50": r["latency_ms_p50"],
             "speedup_vs_ort_fp32": r.get("speedup_vs_ort_fp32")} for (n, p), r in best.items()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="new or empty folder for artifacts and results")
    ap.add_argument("--teacher", default=str(SHARED / "teachers" / "resnet56-4bfd9763.th"), help="ResNet-56 weights")
    ap.add_argument("--quickstart", help="the quickstart student's edgecv model file (default: train it here)")
    ap.add_argument("--mobilenet", help="a CIFAR MobileNet student's edgecv model file (default: distil one here)")
    ap.add_argument("--mobilenet-epochs", type=int, default=3)
    ap.add_argument("--max-train", type=int, help="distil the MobileNet on a stratified subset of the 20k training images")
    ap.add_argument("--val-size", type=int, help="judge CIFAR models on a stratified subset of the 5,000 val images")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runtimes", default=",".join(RUNTIMES), help=f"comma-separated (default: {','.join(RUNTIMES)})")
    ap.add_argument("--models", default="teacher,quickstart,mobilenet", help="which of teacher, quickstart, mobilenet")
    args = ap.parse_args(argv)
    if not (SHARED / "cifar10").is_dir():
        sys.exit(f"offline data not found: {SHARED} (see ../shared/data/README.md)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    import edgecv.app  # noqa: F401  (attaches ONNX Runtime's INT8 builder)
    from edgecv.bench import fingerprint, markdown_table
    from edgecv.utils.io import write_json, write_text

    makers = {"teacher": lambda: teacher_subject(args), "quickstart": lambda: quickstart_subject(args, out),
              "mobilenet": lambda: mobilenet_subject(args, out)}
    wanted = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = set(wanted) - set(makers)
    if unknown:
        sys.exit(f"--models: unknown {', '.join(sorted(unknown))}; use {', '.join(makers)}")
    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    rows = []
    for name in wanted:
        rows += measure(makers[name](), out, args.threads, runtimes, args.rounds)
    env = fingerprint(args.threads)
    features = ", ".join(env.get("cpu_features") or ()) or "none of the INT8 features"  # VNNI, AMX; dot product, i8mm
    head = (f"## Runtimes side by side: batch 1, {args.threads} threads, {args.rounds} interleaved rounds\n\n"
            f"CPU: {env.get('cpu')} ({features}); CIFAR-10 models on "
            f"{args.val_size or 5000} val images, the quickstart student on the digits val split.\n\n")
    text = (head + markdown_table(rows, COLUMNS) + "\n### Fastest runtime per model and precision (status ok)\n\n"
            + markdown_table(winners(rows), [("name", "model", "{}"), ("precision", "precision", "{}"),
                                             ("backend", "fastest", "{}"), ("latency_ms_p50", "p50 ms", "{:.3f}"),
                                             ("speedup_vs_ort_fp32", "x ORT FP32", "{:.2f}")]))
    write_json(out / "results.json", {"environment": env, "rows": rows})
    write_text(out / "results.md", text)
    print("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
