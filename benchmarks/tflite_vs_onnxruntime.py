"""TFLite (LiteRT) vs ONNX Runtime, FP32 and INT8, for the same CIFAR-10 models, side by side.

    PYTHONPATH=. python benchmarks/tflite_vs_onnxruntime.py --out /tmp/tflite-vs-ort [--student FILE]
        [--distill-epochs 3] [--threads 2] [--latency-224]

Models: the ResNet-20 teacher (../shared/data/teachers) and a student distilled from it (a
small-input MobileNetV3-small-0.5, trained here through the `distill` stage unless --student gives an
edgecv model file). Each is exported to both backends at each precision and measured by the same
harness in one process (timings on a shared machine are only comparable side by side): top-1 on the
5,000 shared val images, top-1 agreement with PyTorch, p50 latency at batch 1, file size.
INT8 calibration: 256 training images, the same CalibrationSource for both backends.
`--latency-224` adds MobileNetV3-small and SqueezeNet-1.1 at 224 px (random weights: latency and
size only) to show where full-INT8 pays off on TFLite/XNNPACK.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT / ".." / "shared" / "data"
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
COLUMNS = ("model", "backend", "precision", "status", "top1", "agreement", "p50_ms", "size_mb")


def distil_student(out: Path, epochs: int, max_train: int | None) -> Path:
    """Distil a MobileNetV3-small-0.5 from the ResNet-20 teacher with the recipe pipeline; its model file."""
    import edgecv
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
    files = json.loads((ctx.out_dir / "manifest.json").read_text())["records"][-1]["model_files"]
    return Path(files["student"])


def load_models(args, out: Path) -> dict:
    from edgecv.models import create_model, load_model

    teacher = create_model("cifar_resnet20", checkpoint=SHARED / "teachers" / "resnet20-12fca82f.th").eval()
    student_file = Path(args.student) if args.student else distil_student(out, args.distill_epochs, args.max_train)
    student, _ = load_model(student_file)
    return {"resnet20 (teacher)": teacher, f"{student.edgecv_spec['name']} (student)": student.eval()}


def measure(models: dict, out: Path, threads: int, size: int, data, calibration, precisions, backends) -> list[dict]:
    import torch

    from edgecv.bench import benchmark_artifact
    from edgecv.export import build_artifact

    rows = []
    for label, model in models.items():
        sample = torch.zeros(1, 3, size, size)
        for backend in backends:
            for precision in precisions:
                res = build_artifact(backend, model, sample, out / "artifacts" / label.split()[0] / backend, precision,
                                     calibration, {"mean": list(MEAN), "std": list(STD)})
                base = {"model": label, "backend": backend, "precision": precision}
                if res.status != "ok":
                    rows.append({**base, "status": res.status, "reason": res.error})
                    print(f"{label} {backend} {precision}: {res.status} {res.error}", flush=True)
                    continue
                r = benchmark_artifact(res.artifact, data=data, batches=[1], threads=threads,
                                       reference_model=model if data is not None else None, name=label)[0]
                rows.append({**base, "status": r["status"], "reason": r.get("reason"), "top1": r.get("top1"),
                             "agreement": r.get("agreement"), "p50_ms": r.get("latency_ms_p50"),
                             "size_mb": r.get("size_mb"), "reference_top1": r.get("reference_top1")})
                print({k: rows[-1].get(k) for k in COLUMNS}, flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    def fmt(v):
        return "-" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="new or empty folder for artifacts and results")
    ap.add_argument("--student", help="an edgecv model file to use as the student (default: distil one here)")
    ap.add_argument("--distill-epochs", type=int, default=3)
    ap.add_argument("--max-train", type=int, help="distil on a stratified subset of the 20k training images")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--latency-224", action="store_true", help="also time MobileNetV3-small / SqueezeNet-1.1 at 224 px")
    args = ap.parse_args(argv)
    if not (SHARED / "cifar10").is_dir():
        sys.exit(f"offline data not found: {SHARED} (see ../shared/data/README.md)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from edgecv.bench import EvalSet
    from edgecv.data import CalibrationSource

    models = load_models(args, out)
    data = EvalSet.from_folder(SHARED / "cifar10" / "val", 32, MEAN, STD)
    calibration = CalibrationSource.from_folder(SHARED / "cifar10" / "train", 32, MEAN, STD, size=256)
    rows = measure(models, out, args.threads, 32, data, calibration, ("fp32", "int8"), ("tflite", "onnxruntime"))
    text = f"## CIFAR-10 val (5,000 images), batch 1, {args.threads} threads\n\n" + markdown(rows)

    if args.latency_224:
        from edgecv.models import create_model

        nets = {n: create_model(n, num_classes=1000).eval() for n in ("mobilenetv3_small_100", "squeezenet1_1")}
        cal224 = CalibrationSource.from_folder(SHARED / "imagenette" / "val", 224, MEAN, STD, size=64)
        rows224 = measure(nets, out / "224", args.threads, 224, None, cal224, ("fp32", "int8"), ("tflite", "onnxruntime"))
        rows += rows224
        text += f"\n\n## 224 px, random weights (latency and size only), batch 1, {args.threads} threads\n\n" + markdown(rows224)

    from edgecv.bench import fingerprint
    from edgecv.utils.io import write_json, write_text

    write_json(out / "results.json", {"environment": fingerprint(args.threads), "rows": rows})
    write_text(out / "results.md", text + "\n")
    print("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
