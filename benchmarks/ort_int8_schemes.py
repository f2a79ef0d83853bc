"""ONNX Runtime INT8 for x86 without VNNI: 8-bit vs 7-bit (reduce_range) vs uint8 (U8U8) weights, side by side.

On x86 with AVX2 but no VNNI, ONNX Runtime multiplies u8 activations by s8 weights with VPMADDUBSW, which adds
two products into a saturating int16: 8-bit weights can overflow it, 7-bit weights (|w| <= 64) and uint8
weights (a kernel that widens to int16 first) cannot. For each model this builds the three from one
calibration (robust_minmax, the same images) and reports, per build:

- top-1 and top-1 agreement with the FP32 model on the val images, and whether the static check
  (edgecv.backends.onnx_saturation) proves it safe on x86 without VNNI. A build that is safe computes the
  same integers on every CPU, so its accuracy measured anywhere is its accuracy on an AVX2 machine; the
  8-bit build's accuracy measured on a VNNI (or ARM) CPU is what it reaches *there* only.
- batch-1 latency of FP32 and the three builds, timed in interleaved rounds (edgecv.bench.time_interleaved),
  and each build's speed relative to FP32 and to the 8-bit build. Compare the ratios on an idle machine of
  the kind you deploy to (an AVX2 CPU without VNNI, for the question this script answers).

Models: the CIFAR ResNet-20 and ResNet-56 teachers on the shared CIFAR-10 val images (../shared/data), and the
student and pruned student of a quickstart run on the digits (--run DIR; without it a quickstart run is made).

    python benchmarks/ort_int8_schemes.py [--threads 2] [--run ~/.edgecv/runs/quickstart-...] [--rounds 7]
    python benchmarks/ort_int8_schemes.py --max-val 200 --calib-size 32 --rounds 2 --round-seconds 0.1 \\
        --models resnet20   # a quick check that it runs (the numbers mean little)
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# label -> (QuantizeSpec overrides, the target the build is made for)
SCHEMES = {
    "s8 8-bit": ({"reduce_range": False, "weight_type": "int8"}, "x86-vnni"),
    "s8 7-bit": ({"reduce_range": True, "weight_type": "int8"}, "x86-avx2"),
    "u8 weights": ({"reduce_range": False, "weight_type": "uint8"}, "x86-avx2"),
}
TEACHERS = {"resnet20": ("cifar_resnet20", "resnet20-12fca82f.th"), "resnet56": ("cifar_resnet56", "resnet56-4bfd9763.th")}


def cifar_models(names, out: Path, calib_size: int, max_val: int | None):
    """[(label, FP32 ONNX path, val EvalSet, calibration)] for the pretrained CIFAR teachers."""
    import torch

    from edgecv.backends.build import build_artifact
    from edgecv.bench import EvalSet
    from edgecv.data import CalibrationSource
    from edgecv.data.subset import stratified_subset
    from edgecv.models import create_model

    val = EvalSet.from_folder(DATA / "cifar10" / "val", 32, MEAN, STD, batch_size=500)
    if max_val:
        val = EvalSet(stratified_subset(val.dataset, max_val, 0), val.class_names, batch_size=500,
                      source=f"{max_val} of {val.source}")
    calib = CalibrationSource.from_folder(DATA / "cifar10" / "train", 32, MEAN, STD, size=calib_size)
    out_models = []
    for key in names:
        arch, ckpt = TEACHERS[key]
        model = create_model(arch, num_classes=10, checkpoint=DATA / "teachers" / ckpt).eval()
        res = build_artifact("onnxruntime", model, torch.zeros(1, 3, 32, 32), out / key, "fp32", None,
                             {"mean": list(MEAN), "std": list(STD), "class_names": val.class_names})
        assert res.status == "ok", res.error
        out_models.append((f"{arch} (CIFAR-10 val)", res.artifact.path, val, calib))
    return out_models


def quickstart_models(run: Path, calib_size: int):
    """The student and pruned student of a quickstart run, with the run's val split and calibration images."""
    import edgecv
    from edgecv.bench import EvalSet
    from edgecv.data import CalibrationSource, build_data
    from edgecv.data.views import eval_view
    from edgecv.recipe import validate_recipe

    recipe = validate_recipe(json.loads((run / "recipe.json").read_text()), str(run / "recipe.json"))
    manifest = json.loads((run / "manifest.json").read_text())
    found = {(a.get("role"), a.get("precision")): Path(a["path"]) for a in manifest["artifacts"]
             if a.get("backend") == "onnxruntime" and a.get("status") == "ok"}
    meta = edgecv.backends.Artifact.from_path(found[("student", "fp32")]).metadata
    data = build_data(recipe.data, {"mean": meta.mean, "std": meta.std}, recipe.seed)
    val = EvalSet(data.val, data.class_names, source="the run's val split")
    calib = CalibrationSource(eval_view(data.train, data.val), calib_size, 32, recipe.seed)
    return [(f"quickstart {role} (digits val)", found[(role, "fp32")], val, calib)
            for role in ("student", "pruned") if (role, "fp32") in found]


def build_schemes(fp32: Path, out: Path, calib, log) -> list[tuple[str, Path, dict]]:
    from edgecv.quantize import QuantizeSpec, quantize_onnx

    built = []
    for label, (overrides, target) in SCHEMES.items():
        t0 = time.perf_counter()
        spec = QuantizeSpec(**overrides)
        res = quantize_onnx(fp32, out / f"{fp32.stem}-{label.replace(' ', '-')}.onnx", "int8", calib, spec=spec,
                            target=target)
        log(f"{fp32.name}: {label} in {time.perf_counter() - t0:.1f} s")
        built.append((label, res.artifact.path, res.report))
    return built


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--calib-size", type=int, default=256)
    p.add_argument("--models", default="resnet20,resnet56,quickstart", help="comma-separated: resnet20, resnet56, quickstart")
    p.add_argument("--run", help="a finished quickstart run folder (default: make one, about a minute)")
    p.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds")
    p.add_argument("--round-seconds", type=float, default=1.0)
    p.add_argument("--max-val", type=int, help="stratified subset of the 5,000 CIFAR-10 val images (quick runs)")
    p.add_argument("--out", help="folder for the artifacts (default: a new folder under ~/.edgecv/runs)")
    args = p.parse_args()

    from edgecv import app  # noqa: F401  (attaches the ONNX Runtime int8 builders)
    from edgecv.backends.onnx_saturation import int8_saturation
    from edgecv.bench import TimingConfig, fingerprint, markdown_table, time_interleaved
    from edgecv.eval.logits import agreement
    from edgecv.pipeline import default_out_dir
    from edgecv.quantize.measure import onnx_runner, predictions

    out = Path(args.out) if args.out else default_out_dir("ort_int8_schemes")
    log = lambda s: print(f"[{time.strftime('%H:%M:%S')}] {s}", flush=True)  # noqa: E731
    wanted = [m.strip() for m in args.models.split(",") if m.strip()]
    models = []
    if any(m in TEACHERS for m in wanted):
        if not (DATA / "cifar10").is_dir():
            raise SystemExit(f"the CIFAR teachers need the offline data at {DATA}")
        models += cifar_models([m for m in wanted if m in TEACHERS], out, args.calib_size, args.max_val)
    if "quickstart" in wanted:
        run = Path(args.run).expanduser() if args.run else out / "quickstart"
        if not args.run:
            log(f"making a quickstart run in {run}")
            subprocess.run([sys.executable, "-m", "edgecv", "run", str(ROOT / "recipes" / "quickstart.yaml"), "--out",
                            str(run)], check=True, stdout=subprocess.DEVNULL)
        models += quickstart_models(run, args.calib_size)

    rows = []
    timing = TimingConfig(warmup=5, min_runs=20, min_time_s=args.round_seconds)
    for label, fp32, val, calib in models:
        built = build_schemes(fp32, out / "int8", calib, log)
        fp32_top1, fp32_preds = predictions(fp32, val, args.threads)
        paths = {"fp32": fp32, **{name: path for name, path, _ in built}}
        stats = time_interleaved({k: onnx_runner(v, args.threads) for k, v in paths.items()}, val.first(1), args.rounds, timing)
        base = stats["fp32"]["latency_ms_p50"]
        eight = stats["s8 8-bit"]["latency_ms_p50"]
        rows.append({"model": label, "build": "fp32", "top1": fp32_top1, "agreement": 100.0, "x86_without_vnni": "-",
                     "latency_ms_p50": base, "x_fp32": 1.0, "x_8bit": round(eight / base, 2),
                     "spread_pct": stats["fp32"]["spread_pct"]})
        for name, path, _ in built:
            top1, preds = predictions(path, val, args.threads)
            check = int8_saturation(path)
            lat = stats[name]["latency_ms_p50"]
            rows.append({"model": label, "build": name, "top1": top1, "agreement": agreement(preds, fp32_preds),
                         "x86_without_vnni": "safe" if check.safe else f"saturates ({len(check.unsafe)}/{len(check.weights)} layers)",
                         "latency_ms_p50": lat, "x_fp32": round(base / lat, 2), "x_8bit": round(eight / lat, 2),
                         "spread_pct": stats[name]["spread_pct"]})
        log(f"{label}: done ({len(val)} val images)")
    cols = [("model", "model", "{}"), ("build", "INT8 weights", "{}"), ("top1", "top-1 %", "{:.2f}"),
            ("agreement", "agree w/ FP32 %", "{:.2f}"), ("x86_without_vnni", "x86 without VNNI", "{}"),
            ("latency_ms_p50", "p50 ms (b1)", "{:.3f}"), ("x_fp32", "x FP32", "{:.2f}"), ("x_8bit", "x 8-bit", "{:.2f}"),
            ("spread_pct", "round spread %", "{:.1f}")]
    env = fingerprint(args.threads)
    print(f"\n{markdown_table(rows, cols)}")
    print(f"{env.get('cpu')} ({env.get('cpu_arch')} {' '.join(env.get('cpu_features') or [])}), {args.threads} threads, "
          f"load {env.get('load_avg_1m')}; artifacts in {out}")


if __name__ == "__main__":
    main()
