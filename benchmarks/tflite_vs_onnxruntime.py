"""TFLite (LiteRT) vs ONNX Runtime, FP32 and INT8, for the same CIFAR-10 models, side by side.

    python benchmarks/tflite_vs_onnxruntime.py --out /tmp/tflite-vs-ort [--student FILE]
        [--distill-epochs 3] [--max-train N] [--max-val N] [--rounds 5] [--threads 2] [--latency-224]

Models: the ResNet-20 teacher (../shared/data/teachers) and a student distilled from it (a
small-input MobileNetV3-small-0.5, trained here through the `distill` stage unless --student gives an
edgecv model file). Each is exported to both backends at each precision and measured by the same
harness in one process: top-1 on the 5,000 shared val images (or a stratified --max-val subset),
top-1 agreement with PyTorch, file size, and p50 latency at batch 1, timed side by side (timings on a
shared machine are only comparable that way): all of a model's artifacts in the same interleaved
rounds (`edgecv.bench.time_interleaved`), p50 = the median of the per-round p50s.
INT8 calibration: 256 training images, the same CalibrationSource for both backends.
`--latency-224` adds MobileNetV3-small and SqueezeNet-1.1 at 224 px (random weights: latency and
size only) to show where full-INT8 pays off on TFLite/XNNPACK.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# (ledger row key, column title, format) for edgecv.bench.markdown_table
COLUMNS = [("name", "model", "{}"), ("backend", "backend", "{}"), ("precision", "precision", "{}"),
           ("status", "status", "{}"), ("top1", "top1", "{:.2f}"), ("agreement", "agreement", "{:.2f}"),
           ("latency_ms_p50", "p50 ms", "{:.3f}"), ("spread_pct", "round spread %", "{:.1f}"),
           ("size_mb", "size MB", "{:.2f}")]


def distil_student(out: Path, epochs: int, max_train: int | None) -> Path:
    """Distil a MobileNetV3-small-0.5 from the ResNet-20 teacher with the recipe pipeline; its model file."""
    import edgecv
    from edgecv.app import run_model_file
    from edgecv.recipe import validate_recipe

    raw = {
        "name": "tflite-bench-student", "seed": 0,
        "data": {"source": "imagefolder", "root": str(SHARED / "cifar10"), "image_size": 32, "mean": list(MEAN),
                 "std": list(STD), "batch_size": 128, "workers": 0, **({"max_train": max_train} if max_train else {})},
        "teacher": {"name": "cifar_resnet20", "checkpoint": str(SHARED / "teachers" / "resnet20-12fca82f.th")},
        "student": {"name": "mobilenetv3_small_050", "small_input": True},
        "stages": [{"type": "distill", "epochs": epochs, "lr": 0.05, "warmup_epochs": 0.5,
                    "losses": [{"name": "kd", "temperature": 4.0, "alpha": 0.9}]}],
    }
    ctx = edgecv.run(validate_recipe(raw, "tflite benchmark"), out_dir=out / "distill")
    return run_model_file(ctx.out_dir, "student")[0]


def load_models(args, out: Path) -> dict:
    from edgecv.app import load_model
    from edgecv.models import model_name

    teacher = load_model("cifar_resnet20", checkpoint=SHARED / "teachers" / "resnet20-12fca82f.th").model
    student_file = Path(args.student) if args.student else distil_student(out, args.distill_epochs, args.max_train)
    student = load_model(student_file).model
    return {"resnet20 (teacher)": teacher, f"{model_name(student)} (student)": student}


def measure(models: dict, out: Path, threads: int, size: int, data, calibration, precisions, backends,
            rounds: int) -> list[dict]:
    """Ledger rows of every (model, backend, precision): accuracy and parity from the harness, batch-1
    latency from interleaved rounds over all of one model's artifacts."""
    import numpy as np
    import torch

    from edgecv.backends import BACKENDS
    from edgecv.backends.build import build_artifact
    from edgecv.bench import TimingConfig, benchmark_artifact, time_interleaved

    check = TimingConfig(warmup=0, min_runs=1, min_time_s=0.0)  # the harness's own timing: replaced below
    x = data.first(1) if data is not None else np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)
    rows = []
    for label, model in models.items():
        sample = torch.zeros(1, 3, size, size)
        runners: dict[tuple, object] = {}
        timed: dict[tuple, dict] = {}
        for backend in backends:
            for precision in precisions:
                res = build_artifact(backend, model, sample, out / "artifacts" / label.split()[0] / backend, precision,
                                     calibration, preprocess={"mean": list(MEAN), "std": list(STD)})
                base = {"name": label, "backend": res.backend, "precision": precision}
                if res.status != "ok":
                    rows.append({**base, "status": res.status, "reason": res.error})
                    print(f"{label} {backend} {precision}: {res.status} {res.error}", flush=True)
                    continue
                runner = BACKENDS.get(res.backend).load(res.artifact, threads)
                r = benchmark_artifact(res.artifact, data=data, batches=[1], threads=threads, timing=check, runner=runner,
                                       reference_model=model if data is not None else None, name=label)[0]
                rows.append(r)
                if r["status"] in ("ok", "inaccurate"):
                    runners[(res.backend, precision)], timed[(res.backend, precision)] = runner, r
                print(f"{label} {backend} {precision}: {r['status']} top-1 {r.get('top1')} {r.get('reason') or ''}", flush=True)
        if runners:
            stats = time_interleaved({" ".join(k): run for k, run in runners.items()}, x, rounds,
                                     TimingConfig(warmup=10, min_runs=20, min_time_s=0.3))
            for k, r in timed.items():
                r.update(stats[" ".join(k)], latency_ms_mean=None, latency_ms_std=None, outliers=None)
                print(f"{label} {' '.join(k)}: p50 {r['latency_ms_p50']} ms (round spread {r['spread_pct']} %)", flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="new or empty folder for artifacts and results")
    ap.add_argument("--student", help="an edgecv model file to use as the student (default: distil one here)")
    ap.add_argument("--distill-epochs", type=int, default=3)
    ap.add_argument("--max-train", type=int, help="distil on a stratified subset of the 20k training images")
    ap.add_argument("--max-val", type=int, help="evaluate on a stratified subset of the 5,000 val images")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--latency-224", action="store_true", help="also time MobileNetV3-small / SqueezeNet-1.1 at 224 px")
    args = ap.parse_args(argv)
    if not (SHARED / "cifar10").is_dir():
        sys.exit(f"offline data not found: {SHARED} (see ../shared/data/README.md)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from edgecv.bench import EvalSet, markdown_table
    from edgecv.data import CalibrationSource
    from edgecv.data.subset import stratified_subset

    models = load_models(args, out)
    data = EvalSet.from_folder(SHARED / "cifar10" / "val", 32, MEAN, STD)
    if args.max_val:
        data = EvalSet(stratified_subset(data.dataset, args.max_val, 0), data.class_names, source=f"{args.max_val} of {data.source}")
    calibration = CalibrationSource.from_folder(SHARED / "cifar10" / "train", 32, MEAN, STD, size=256)
    rows = measure(models, out, args.threads, 32, data, calibration, ("fp32", "int8"), ("tflite", "onnxruntime"), args.rounds)
    text = (f"## CIFAR-10 val ({len(data):,} images), batch 1, {args.threads} threads, {args.rounds} interleaved rounds\n\n"
            + markdown_table(rows, COLUMNS))

    if args.latency_224:
        from edgecv.models import create_model

        nets = {n: create_model(n, num_classes=1000).eval() for n in ("mobilenetv3_small_100", "squeezenet1_1")}
        cal224 = CalibrationSource.from_folder(SHARED / "imagenette" / "val", 224, MEAN, STD, size=64)
        rows224 = measure(nets, out / "224", args.threads, 224, None, cal224, ("fp32", "int8"), ("tflite", "onnxruntime"),
                          args.rounds)
        rows += rows224
        text += (f"\n\n## 224 px, random weights (latency and size only), batch 1, {args.threads} threads\n\n"
                 + markdown_table(rows224, COLUMNS))

    from edgecv.bench import fingerprint
    from edgecv.utils.io import write_json, write_text

    write_json(out / "results.json", {"environment": fingerprint(args.threads), "rows": rows})
    write_text(out / "results.md", text + "\n")
    print("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
