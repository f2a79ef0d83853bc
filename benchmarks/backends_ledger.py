"""One ledger for the CIFAR-10 ResNet-56 teacher and (optionally) a finished run's models, through
every usable backend (torch eager and onnxruntime here), with accuracy on the full validation set.

    python benchmarks/backends_ledger.py [RUN_DIR] [--threads 1] [--batch 1,8] [--rounds 5] [--out DIR]

RUN_DIR is a finished `edgecv run` folder (e.g. of recipes/quickstart.yaml): its last saved models are
exported and benchmarked on the run's own validation split. Without it, only the teacher runs.
A model's backends are timed side by side in interleaved rounds (`edgecv.bench.time_interleaved`), so
load from other processes hits them alike; p50 is the median of the per-round p50s.
Nothing is written unless --out is given (a new folder: results.json, report.md, pareto.png).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def bench_model(model, name, data, sample, work: Path, args, backends) -> list[dict]:
    """The torch reference row plus one row per usable backend, for one in-memory model: accuracy and
    parity from the harness, latency from interleaved rounds over all of the model's backends."""
    from edgecv.backends import BACKENDS
    from edgecv.backends.build import build_artifact
    from edgecv.backends import module_runner
    from edgecv.bench import TimingConfig, benchmark_artifact, time_interleaved

    check = TimingConfig(warmup=0, min_runs=1, min_time_s=0.0)  # the harness's own timing: replaced below
    common = dict(data=data, batches=args.batches, threads=args.threads, timing=check, reference_model=model, name=name)
    pre = {"class_names": data.class_names}
    rows, runners = [], {}
    for backend in backends:
        res = build_artifact(backend, model, sample, work / name / backend, "fp32", preprocess=pre)
        if res.status != "ok":
            rows += [{"name": name, "backend": res.backend, "precision": "fp32", "batch": b, "status": res.status,
                      "reason": res.error} for b in args.batches]
            continue
        # torch: the in-memory reference itself
        runner = (module_runner(model, args.threads) if res.backend == "torch"
                  else BACKENDS.get(res.backend).load(res.artifact, args.threads))
        got = benchmark_artifact(res.artifact, runner=runner, parity=res.backend != "torch", **common)
        rows += got
        if any(r["status"] in ("ok", "inaccurate") for r in got):
            runners[res.backend] = runner
        print(f"  {name} {backend}: {got[-1]['status']}", flush=True)
    timing = TimingConfig(warmup=10, min_runs=args.min_runs, min_time_s=args.min_time)
    for b in args.batches:
        timed = [r for r in rows if r["batch"] == b and r["backend"] in runners and r["status"] in ("ok", "inaccurate")]
        if not timed:
            continue
        stats = time_interleaved({r["backend"]: runners[r["backend"]] for r in timed}, data.first(b), args.rounds, timing)
        for r in timed:
            r.update(stats[r["backend"]], latency_ms_mean=None, latency_ms_std=None, outliers=None)
    return rows


def teacher_rows(args, work: Path, backends) -> list[dict]:
    import torch

    from edgecv.bench import EvalSet
    from edgecv.models import create_model

    ckpt, val = DATA / "teachers" / "resnet56-4bfd9763.th", DATA / "cifar10" / "val"
    if not ckpt.is_file() or not val.is_dir():
        print(f"skipping the teacher: {ckpt} or {val} not found")
        return []
    model = create_model("cifar_resnet56", num_classes=10, checkpoint=ckpt).eval()
    data = EvalSet.from_folder(val, 32, MEAN, STD, crop_pct=1.0, batch_size=250)
    return bench_model(model, "cifar_resnet56 (teacher)", data, torch.zeros(1, 3, 32, 32), work, args, backends)


def run_rows(run_dir: Path, args, work: Path, backends) -> list[dict]:
    """Every model the run saved last, on the run's own validation split."""
    import torch

    from edgecv.app import load_model
    from edgecv.bench import EvalSet
    from edgecv.data import build_data
    from edgecv.models import data_config
    from edgecv.recipe import validate_recipe

    from edgecv.models import model_name

    manifest = json.loads((run_dir / "manifest.json").read_text())
    recipe = validate_recipe(json.loads((run_dir / "recipe.json").read_text()), str(run_dir / "recipe.json"))
    roles = manifest["records"][-1]["model_files"]
    models = {role: load_model(run_dir, role=role).model for role in roles}
    d = build_data(recipe.data, data_config(models["student"]), recipe.seed)
    data = EvalSet(d.val, d.class_names, batch_size=250, source=f"{run_dir.name} val split")
    rows = []
    for role, model in models.items():
        name = f"{model_name(model)} ({role})"
        rows += bench_model(model, name, data, torch.zeros(1, 3, d.image_size, d.image_size), work, args, backends)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", nargs="?", type=Path)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", default="1,8")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    ap.add_argument("--min-runs", type=int, default=20, help="timed calls per round, at least")
    ap.add_argument("--min-time", type=float, default=0.2, help="seconds per round, at least")
    ap.add_argument("--backends", default="torch,onnxruntime")
    ap.add_argument("--no-teacher", action="store_true")
    ap.add_argument("--out", type=Path, help="write the ledger into this new folder")
    args = ap.parse_args()
    args.batches = [int(b) for b in args.batch.split(",")]

    from edgecv.bench import fingerprint, markdown_table, write_ledger

    backends = args.backends.split(",")
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="edgecv-ledger-") as tmp:
        if args.run_dir:
            rows += run_rows(args.run_dir, args, Path(tmp), backends)
        if not args.no_teacher:
            rows += teacher_rows(args, Path(tmp), backends)
    env = fingerprint(args.threads)
    print(f"\nmachine: {env['cpu']}, {env['cores_usable']} usable cores, load {env['load_avg_1m']} (shared, noisy); "
          f"threads {args.threads}\n")
    print(markdown_table(rows))
    if args.out:
        files = write_ledger(args.out, rows, env, title="edgecv backends ledger")
        print(f"wrote {', '.join(map(str, files.values()))}")
    return 0 if rows and all(r["status"] in ("ok", "skipped") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
