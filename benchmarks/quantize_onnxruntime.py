"""INT8 / FP16 quantization on ONNX Runtime CPU: the CIFAR ResNet-56 teacher and one distilled student.

For each model: FP32 ONNX, INT8 QDQ PTQ with each calibration method (minmax, entropy, percentile;
per-channel weights, 256 train images), INT8 with a 0.3 pt budget, and FP16, evaluated on all 5,000
shared CIFAR-10 val images (top-1, top-1 agreement with PyTorch FP32) and timed at batch 1. Latency
is measured in interleaved rounds (`edgecv.bench.time_interleaved`: every artifact once per round,
median of the round p50s) so load from other processes hits all artifacts alike; compare the ratios,
not absolute milliseconds.

The student is ResNet-20 fine-tuned for --distill-steps with Hinton KD from ResNet-56 by the `distill`
stage (or pass an edgecv model file with --student).

    python benchmarks/quantize_onnxruntime.py [--threads 2] [--distill-steps 150] [--out DIR]
    python benchmarks/quantize_onnxruntime.py --distill-steps 2 --max-val 200 --calib-size 32 --rounds 2 \
        --round-seconds 0.1      # a quick check that it runs (the numbers mean little)
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
METHODS = ("minmax", "entropy", "percentile")


def distilled_student(steps: int, out: Path, seed: int = 0):
    """ResNet-20 fine-tuned with Hinton KD from ResNet-56 by the recipe pipeline's `distill` stage:
    (the student, its saved model file)."""
    import edgecv
    from edgecv.app import run_model_file
    from edgecv.recipe import validate_recipe

    raw = {
        "name": "quantize-bench-student", "seed": seed, "device": "cpu",
        "data": {"source": "imagefolder", "root": str(DATA / "cifar10"), "image_size": 32, "mean": list(MEAN),
                 "std": list(STD), "batch_size": 128, "eval_batch_size": 500, "workers": 2, "max_val": 500,
                 "augment": {"crop": "pad_crop"}},
        "teacher": {"name": "cifar_resnet56", "checkpoint": str(DATA / "teachers" / "resnet56-4bfd9763.th")},
        "student": {"name": "cifar_resnet20", "checkpoint": str(DATA / "teachers" / "resnet20-12fca82f.th")},
        "stages": [{"type": "distill", "epochs": 1, "lr": 0.01, "max_steps_per_epoch": steps, "weight_decay": 5e-4,
                    "losses": [{"name": "kd", "temperature": 4.0, "alpha": 0.9}]}],
    }
    ctx = edgecv.run(validate_recipe(raw, "quantize benchmark"), out_dir=out / "distill")
    return ctx.model("student").eval(), run_model_file(ctx.out_dir, "student")[0]


def build_all(model, name: str, out: Path, calib, val, threads: int, log) -> list[tuple[str, Path, dict]]:
    """[(label, path, report)] of FP32, INT8 per method, INT8 with a 0.3 pt budget, FP16."""
    import torch

    from edgecv.backends.build import build_artifact
    from edgecv.quantize import QuantizeSpec, quantize_onnx

    res = build_artifact("onnxruntime", model, torch.zeros(1, 3, 32, 32), out / name, "fp32",
                         preprocess={"mean": list(MEAN), "std": list(STD), "class_names": val.class_names})
    assert res.status == "ok", res.error
    fp32 = res.artifact.path
    built = [("fp32", fp32, {})]
    for m in METHODS:
        t0 = time.perf_counter()
        r = quantize_onnx(fp32, out / name / f"{name}-int8-{m}.onnx", "int8", calib, m)
        log(f"{name}: int8 {m} in {time.perf_counter() - t0:.1f} s")
        built.append((f"int8 {m}", r.artifact.path, r.report))
    t0 = time.perf_counter()
    r = quantize_onnx(fp32, out / name / f"{name}-int8-budget.onnx", "int8", calib,
                      spec=QuantizeSpec(budget=0.3, threads=threads), val=val, log=lambda s: log(f"{name}: {s}"))
    log(f"{name}: int8 with budget in {time.perf_counter() - t0:.1f} s; kept FP32: {r.report['kept_fp32']}")
    built.append(("int8 budget 0.3", r.artifact.path, r.report))
    built.append(("fp16", quantize_onnx(fp32, out / name / f"{name}-fp16.onnx", "fp16").artifact.path, {}))
    return built


def interleaved_latency(paths: list[Path], x, threads: int, rounds: int, seconds: float) -> list[dict]:
    """Each file's latency stats from the same interleaved rounds (every file once per round)."""
    from edgecv.bench import TimingConfig, time_interleaved
    from edgecv.quantize.measure import onnx_runner

    stats = time_interleaved({str(p): onnx_runner(p, threads) for p in paths}, x, rounds,
                             TimingConfig(warmup=5, min_runs=20, min_time_s=seconds))
    return [stats[str(p)] for p in paths]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--calib-size", type=int, default=256)
    p.add_argument("--distill-steps", type=int, default=150)
    p.add_argument("--student", help="an edgecv model file to use as the distilled student")
    p.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    p.add_argument("--round-seconds", type=float, default=1.0)
    p.add_argument("--max-val", type=int, help="stratified subset of the 5,000 val images (quick runs)")
    p.add_argument("--out", help="folder for artifacts and the ledger (default: a new folder under ~/.edgecv/runs)")
    args = p.parse_args()
    if not (DATA / "cifar10").is_dir():
        raise SystemExit(f"needs the offline CIFAR-10 copy at {DATA / 'cifar10'}")

    import torch

    from edgecv.app import load_model
    from edgecv.bench import EvalSet, TimingConfig, benchmark_artifact, fingerprint, markdown_table, write_ledger
    from edgecv.data import CalibrationSource
    from edgecv.data.subset import stratified_subset
    from edgecv.models import create_model
    from edgecv.pipeline import default_out_dir
    from edgecv.quantize.advice import advice_markdown, precision_advice

    torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else default_out_dir("quantize_onnxruntime")
    log = lambda s: print(f"[{time.strftime('%H:%M:%S')}] {s}", flush=True)  # noqa: E731
    val = EvalSet.from_folder(DATA / "cifar10" / "val", 32, MEAN, STD, batch_size=500)
    if args.max_val:
        val = EvalSet(stratified_subset(val.dataset, args.max_val, 0), val.class_names, batch_size=500,
                      source=f"{args.max_val} of {val.source}")
    calib = CalibrationSource.from_folder(DATA / "cifar10" / "train", 32, MEAN, STD, size=args.calib_size)
    teacher = create_model("cifar_resnet56", num_classes=10, checkpoint=DATA / "teachers" / "resnet56-4bfd9763.th").eval()
    if args.student:
        student = load_model(args.student).model
    else:
        student, saved = distilled_student(args.distill_steps, out)
        log(f"distilled student saved to {saved} (reuse: --student FILE)")

    rows = []
    student_name = Path(args.student).stem if args.student else "resnet20_kd"
    for name, model in (("cifar_resnet56", teacher), (student_name, student)):
        built = build_all(model, name, out, calib, val, args.threads, log)
        lat = interleaved_latency([b[1] for b in built], val.first(1), args.threads, args.rounds, args.round_seconds)
        fp32_lat = lat[0]["latency_ms_p50"]
        for (label, path, rep), stats in zip(built, lat):
            row, = benchmark_artifact(path, data=val, reference_model=model, threads=args.threads, name=name,
                                      timing=TimingConfig(warmup=0, min_runs=1, min_time_s=0))  # timed above
            row.update(stats, latency_ms_mean=None, latency_ms_std=None, outliers=None, variant=label,
                       speed_vs_fp32=round(fp32_lat / stats["latency_ms_p50"], 2),
                       kept_fp32=len(rep.get("kept_fp32") or []))
            rows.append(row)
        log(f"{name}: done")

    cols = [("name", "model", "{}"), ("variant", "variant", "{}"), ("top1", "val top-1 %", "{:.2f}"),
            ("agreement", "agree w/ FP32 %", "{:.2f}"), ("latency_ms_p50", "p50 ms (b1)", "{:.3f}"),
            ("speed_vs_fp32", "x FP32 speed", "{:.2f}"), ("spread_pct", "round spread %", "{:.1f}"), ("size_mb", "size MB", "{:.3f}"),
            ("kept_fp32", "nodes kept FP32", "{}"), ("status", "status", "{}")]
    table = markdown_table(rows, cols)
    env = fingerprint(args.threads)
    plain = [r for r in rows if r["variant"] in ("fp32", "int8 minmax", "int8 entropy", "int8 percentile", "fp16")]
    advice = advice_markdown(precision_advice(plain, budget=0.3, key=lambda r: r["name"]))
    write_ledger(out / "ledger", rows, env, title="INT8/FP16 on ONNX Runtime CPU")
    print(f"\n{table}\nPrecision advice at a 0.3 pt budget (ONNX Runtime CPU, batch 1):\n\n{advice}")
    print(f"{env.get('cpu')}, {args.threads} threads, load {env.get('load_avg_1m')}; artifacts and ledger in {out}")


if __name__ == "__main__":
    main()
