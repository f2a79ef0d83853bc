"""CIFAR-10 distillation benchmark: ResNet-56 teacher -> small-input student, on CPU.

Runs recipes/cifar10_distill.yaml on ../shared/data/cifar10 (20,000 train / 5,000 val PNGs) and prints
the teacher/student table (params, MACs, top-1, top-5, PyTorch batch-1 latency). The epoch count is
the CPU budget: on 2 cores one epoch of the default student takes about two minutes.

    python benchmarks/cifar10_distill.py [--epochs 12] [--student mobilenetv3_small_100] [--threads 2] [--out DIR]
    python benchmarks/cifar10_distill.py --epochs 1 --max-train 500 --max-val 500   # a quick check that it runs
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--threads", type=int, default=2, help="torch threads for training")
    p.add_argument("--student", default=None, help="override the recipe's student (any registered name)")
    p.add_argument("--max-train", type=int, default=None, help="stratified subset of the 20,000 train images")
    p.add_argument("--max-val", type=int, default=None, help="stratified subset of the 5,000 val images")
    p.add_argument("--out", default=None, help="run folder (default: a new folder under ~/.edgecv/runs)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args()

    import torch

    import edgecv

    data = ROOT / ".." / "shared" / "data"
    if not (data / "cifar10").is_dir():
        raise SystemExit(f"needs the offline CIFAR-10 copy at {data / 'cifar10'}")
    overrides = [f"stages.distill.epochs={args.epochs}", f"data.root={data / 'cifar10'}",
                 f"teacher.checkpoint={data / 'teachers' / 'resnet56-4bfd9763.th'}", *args.overrides]
    if args.student:
        overrides.append(f"student.name={args.student}")
    if args.max_train:
        overrides.append(f"data.max_train={args.max_train}")
    if args.max_val:
        overrides.append(f"data.max_val={args.max_val}")
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    ctx = edgecv.run(ROOT / "recipes" / "cifar10_distill.yaml", out_dir=args.out, overrides=overrides)
    minutes = (time.perf_counter() - t0) / 60
    print(f"\nwall time {minutes:.1f} min on {torch.get_num_threads()} threads; run folder {ctx.out_dir}")
    print((ctx.out_dir / "report.md").read_text())


if __name__ == "__main__":
    main()
