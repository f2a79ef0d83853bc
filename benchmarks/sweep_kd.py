"""A sweep of the KD temperature and alpha for the quickstart student: `edgecv sweep` on the whole
quickstart recipe (teacher -> KD student -> pruned -> INT8 -> ONNX Runtime + TFLite -> benchmark), one
full run per trial, the student's best ledger row scored by top-1; prints the sweep's table.

    python benchmarks/sweep_kd.py [--temperatures 1,2,4,8] [--alphas 0.5,0.9] [--objective top1]
                                  [--workers 1] [--out DIR] [--smoke]

The default grid is 4 x 2 = 8 trials (about 55 s each on 2 idle CPU cores: ~8 minutes). `--smoke` shrinks
every run (a few training steps, short timing) to check the pipeline in a minute; its numbers mean nothing.
Rerunning with the same --out resumes the sweep.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "quickstart.yaml"
T, A = "stages.distill.losses.0.temperature", "stages.distill.losses.0.alpha"
# --smoke: each run a few seconds of work (tiny data, one short epoch per training stage, short timing)
SMOKE = ["data.max_train=200", "data.max_val=100", "stages.0.epochs=1", "stages.0.max_steps_per_epoch=3",
         "stages.1.epochs=1", "stages.1.max_steps_per_epoch=3", "stages.prune.final_epochs=0",
         "stages.prune.finetune.epochs=1", "stages.prune.finetune.max_steps_per_epoch=2", "stages.4.calib_size=32",
         "stages.benchmark.min_runs=3", "stages.benchmark.min_time_s=0", "stages.benchmark.warmup=1"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--temperatures", default="1,2,4,8", help="KD temperatures of the grid (default 1,2,4,8)")
    ap.add_argument("--alphas", default="0.5,0.9", help="KD alphas (the teacher term's weight) of the grid (default 0.5,0.9)")
    ap.add_argument("--objective", default="top1", help="top1, or score with --latency-bound (default top1)")
    ap.add_argument("--latency-bound", type=float, help="p50 ms bound for --objective score")
    ap.add_argument("--metric-row", default="role=student", help="the ledger row scored (default: the student's best)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out", help="sweep folder (default ~/.edgecv/runs/quickstart-sweep-<time>)")
    ap.add_argument("--smoke", action="store_true", help="tiny runs: check the pipeline, not the numbers")
    args = ap.parse_args()

    from edgecv.sweep import prepare_sweep, run_sweep
    from edgecv.sweep.report import markdown

    grid = [f"{T}={args.temperatures}", f"{A}={args.alphas}"]
    spec = prepare_sweep(RECIPE, grid=grid, objective=args.objective, latency_bound=args.latency_bound,
                         metric_row=args.metric_row, out=args.out, sets=SMOKE if args.smoke else [])
    t0 = time.perf_counter()
    ledger = run_sweep(spec, workers=args.workers, echo=lambda line: print(line, flush=True))
    minutes = (time.perf_counter() - t0) / 60
    rows = ledger["rows"]
    done = [r for r in rows if r["status"] == "complete"]
    print()
    print(f"## KD temperature x alpha on the quickstart student ({len(done)}/{len(rows)} trials finished, "
          f"{minutes:.1f} min{', SMOKE: numbers mean nothing' if args.smoke else ''})")
    print()
    print(markdown(spec, rows), end="")
    if done:
        best, top1 = done[0], [r["top1"] for r in done if r.get("top1") is not None]
        print(f"\nbest: temperature {best['params'][T]}, alpha {best['params'][A]}: top-1 {best['top1']:.2f} % "
              f"({best['row']}); top-1 across trials {min(top1):.2f}..{max(top1):.2f} %")
    print(f"ledger: {spec.out}/report.md")
    return 0 if len(done) == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
