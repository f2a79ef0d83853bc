"""The standard backend sweep on an NVIDIA GPU: the torch backend on CUDA (FP32 eager, FP16, BF16,
channels-last, CUDA graphs, torch.compile) and, where it is installed, TensorRT FP32/FP16, for the CIFAR
ResNet-56 teacher and a student, at batch 1, 32 and 256.

    python benchmarks/gpu_sweep.py [--student cifar_resnet20 | STUDENT.pt] [--batch 1,32,256]
                                   [--configs fp32,fp16,...] [--min-agreement 99.5] [--out DIR]

Every row: top-1 on the 5,000 CIFAR-10 val images, top-1 agreement with the same model in eager FP32 on
the CPU (status `inaccurate` below --min-agreement), p50 latency (wall time per call: host copy in,
compute, copy out, synchronise), the CUDA-event split into compute, H2D and D2H, and throughput. The
table names the GPU, driver and clocks (`edgecv.bench.fingerprint`). Nothing is written unless --out (a
new folder: results.json, report.md, pareto.png). Where there is no CUDA GPU it says so and exits with 2.

The student defaults to the CIFAR ResNet-20 (0.27 M parameters, 91.56 % on these images); give an edgecv
model file (a distilled or pruned student from `edgecv run`) to sweep that instead.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

# name -> (precision, torch backend options besides device)
CONFIGS: dict[str, tuple[str, dict]] = {
    "fp32": ("fp32", {}),
    "fp32-graphs": ("fp32", {"cuda_graphs": True}),
    "fp32-compile": ("fp32", {"compile": True}),
    "fp16": ("fp16", {}),
    "fp16-channels-last": ("fp16", {"channels_last": True}),
    "fp16-graphs": ("fp16", {"cuda_graphs": True}),
    "fp16-compile": ("fp16", {"compile": True}),
    "bf16": ("bf16", {}),
    "bf16-graphs": ("bf16", {"cuda_graphs": True}),
}
COLUMNS = ("name", "backend", "precision", "batch", "status", "top1", "agreement", "latency_ms_p50",
           "latency_ms_compute_p50", "h2d_ms_p50", "d2h_ms_p50", "throughput_ips", "reason")


def no_gpu_reason() -> str | None:
    """Why this machine cannot run the sweep (no CUDA GPU), else None."""
    try:
        import torch
    except ImportError:
        return "PyTorch is not installed"
    if torch.cuda.is_available():
        return None
    if torch.version.cuda is None:
        return f"this PyTorch ({torch.__version__}) is a CPU-only build; install a CUDA build"
    return f"PyTorch {torch.__version__} (CUDA {torch.version.cuda}) finds no NVIDIA GPU or driver here"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", type=Path, default=DATA / "teachers" / "resnet56-4bfd9763.th",
                   help="CIFAR ResNet-56 weights (default: ../shared/data/teachers/resnet56-4bfd9763.th)")
    p.add_argument("--student", default="cifar_resnet20",
                   help="cifar_resnet20 (with ../shared/data's weights; default) or an edgecv model file")
    p.add_argument("--val", type=Path, default=DATA / "cifar10" / "val", help="CIFAR-10 val images, DIR/<class>/*.png")
    p.add_argument("--batch", default="1,32,256", help="batch sizes (default 1,32,256)")
    p.add_argument("--configs", default=",".join(CONFIGS), help=f"torch configurations (default all: {', '.join(CONFIGS)})")
    p.add_argument("--compile-mode", default="default", help="torch.compile mode for the *-compile configs")
    p.add_argument("--no-tensorrt", action="store_true", help="skip the TensorRT rows even where it is installed")
    p.add_argument("--min-agreement", type=float, default=99.5, help="%% top-1 agreement with CPU FP32 (default 99.5)")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--min-runs", type=int, default=100)
    p.add_argument("--min-time", type=float, default=2.0, help="seconds of timed runs per row at least (default 2)")
    p.add_argument("--out", type=Path, help="write results.json, report.md and pareto.png into this new folder")
    args = p.parse_args(argv)
    args.batches = [int(b) for b in args.batch.split(",") if b.strip()]
    args.configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in args.configs if c not in CONFIGS]
    if unknown:
        p.error(f"unknown config(s) {', '.join(unknown)}; known: {', '.join(CONFIGS)}")
    return args


def load_models(args):
    """[(label, CPU FP32 model)]: the teacher and the student."""
    from edgecv.app import load_model
    from edgecv.models import create_model

    teacher = create_model("cifar_resnet56", num_classes=10, checkpoint=args.teacher).eval()
    if args.student == "cifar_resnet20":
        student = create_model("cifar_resnet20", num_classes=10,
                               checkpoint=DATA / "teachers" / "resnet20-12fca82f.th").eval()
    else:
        student = load_model(args.student).model.eval()
    return [("resnet56 (teacher)", teacher), (f"{Path(args.student).stem} (student)", student)]


def sweep_model(label, model, data, args, work: Path) -> list[dict]:
    """One row per configuration and batch size for one model, each judged against it in CPU FP32."""
    import torch

    from edgecv.backends import BACKENDS
    from edgecv.backends.build import build_artifact
    from edgecv.bench import Thresholds, TimingConfig, benchmark_artifact

    sample = torch.zeros(1, 3, 32, 32)
    pre = {"mean": MEAN, "std": STD, "class_names": CIFAR_CLASSES}
    timing = TimingConfig(args.warmup, args.min_runs, args.min_time)
    common = dict(data=data, batches=args.batches, reference_model=model, timing=timing,
                  thresholds=Thresholds(min_agreement=args.min_agreement))
    builds = []
    for config in args.configs:
        precision, opts = CONFIGS[config]
        opts = {"device": "cuda", **opts}
        if opts.get("compile") and args.compile_mode != "default":
            opts["compile_mode"] = args.compile_mode
        builds.append((config, "torch", precision, opts))
    trt_ok, trt_why = BACKENDS.get("tensorrt").available()
    if not args.no_tensorrt:
        if trt_ok:
            profile = f"{min(args.batches)},{sorted(args.batches)[len(args.batches) // 2]},{max(args.batches)}"
            builds += [(f"tensorrt-{p}", "tensorrt", p, {"batch": profile}) for p in ("fp32", "fp16")]
        else:
            print(f"  no TensorRT rows: {trt_why}", flush=True)
    rows: list[dict] = []
    for config, backend, precision, opts in builds:
        name = f"{label} {config}"
        res = build_artifact(backend, model, sample, work / label.split()[0] / config, precision, None, opts, preprocess=pre)
        if res.status != "ok":
            rows += [{"name": name, "backend": backend, "precision": precision, "batch": b, "status": res.status,
                      "reason": res.error} for b in args.batches]
        else:
            rows += benchmark_artifact(res.artifact, name=name, **common)
        torch.cuda.empty_cache()
        print(f"  {name}: " + ", ".join(f"b{r['batch']} {r['status']} {_ms(r.get('latency_ms_p50'))}" for r in rows[-len(args.batches):]),
              flush=True)
    return rows


def _ms(v) -> str:
    return f"{v:.3f} ms" if isinstance(v, (int, float)) else "-"


def gpu_line(env: dict) -> str:
    g = env.get("gpu") or {}
    clocks = ", ".join(f"{label} {g[k]} {unit}" for k, label, unit in
                       (("clocks_sm_mhz", "SM clock", "MHz"), ("clocks_max_sm_mhz", "max SM", "MHz"),
                        ("clocks_mem_mhz", "memory clock", "MHz"), ("power_limit_w", "power limit", "W"))
                       if g.get(k) is not None)
    libs = env.get("libraries") or {}
    return (f"GPU: {g.get('name', 'unknown')} (compute capability {g.get('compute_cap') or '?'}, {g.get('memory') or '?'}), "
            f"driver {g.get('driver') or '?'}{', ' + clocks if clocks else ''}; torch {libs.get('torch', '?')}"
            + (f", TensorRT {libs['tensorrt']}" if libs.get("tensorrt") else ""))


def main(argv=None) -> int:
    args = parse_args(argv)
    why = no_gpu_reason()
    if why:
        print(f"gpu_sweep: no CUDA GPU: {why}. Run it on a machine with an NVIDIA GPU (or a Jetson with "
              "NVIDIA's PyTorch wheel); nothing was measured.", file=sys.stderr)
        return 2
    for need in (args.teacher, args.val):
        if not Path(need).exists():
            print(f"gpu_sweep: {need} not found (see ../shared/data/README.md)", file=sys.stderr)
            return 2
    import edgecv.app  # noqa: F401  (loads what higher layers attach to backends)
    from edgecv.bench import EvalSet, fingerprint, markdown_table, write_ledger
    from edgecv.bench.ledger import COLUMNS as LEDGER_COLUMNS

    data = EvalSet.from_folder(args.val, 32, MEAN, STD, crop_pct=1.0, batch_size=256)
    env = fingerprint()
    print(gpu_line(env), flush=True)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="edgecv-gpu-sweep-") as tmp:
        for label, model in load_models(args):
            print(f"{label}:", flush=True)
            rows += sweep_model(label, model, data, args, Path(tmp))
    columns = [c for c in LEDGER_COLUMNS if c[0] in COLUMNS]
    print(f"\n### {env['gpu']['name'] if env.get('gpu') else 'GPU'}: torch CUDA and TensorRT, CIFAR-10 val "
          f"({len(data.targets())} images)\n\n{gpu_line(env)}\n")
    print(markdown_table(rows, columns), end="")
    if args.out:
        files = write_ledger(args.out, rows, env, title=f"GPU sweep on {env['gpu']['name'] if env.get('gpu') else 'GPU'}")
        print(f"wrote {', '.join(str(f) for f in files.values())}")
    bad = [r for r in rows if r.get("status") not in ("ok", "skipped")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
