"""Benchmark: CIFAR-10 ResNet-56 pruned to <= 0.5x MACs with KD fine-tuning, within a stated CPU budget.

    python benchmarks/prune_resnet56.py                      # the full run: <= 45 min on 2 cores
    python benchmarks/prune_resnet56.py --budget-min 3 --max-train 2000 --max-val 500 --latency-budget-min 1  # smoke

Teacher: ../shared/data/teachers/resnet56-4bfd9763.th (92.86 % on the 5k shared val split). The student
starts as a copy of it, is pruned in --steps steps (global L2 group importance by default) and fine-tuned
after each step with Hinton KD from the unpruned teacher. The fine-tuning budget is measured, not guessed:
we time a few KD iterations and a val pass first, then give the steps and the final fine-tune as many
iterations as fit in --budget-min. Reports val top-1, MACs, params and ONNX Runtime p50 (batch 1,
--threads) before and after (latencies timed side by side, interleaved, because the machine is shared),
every step's table, and one latency-targeted run (--latency-frac of the measured original p50).
Writes results.json, the tables and the pruned model to --out (default ~/.edgecv/benchmarks/...).
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared" / "data"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget-min", type=float, default=45.0, help="CPU budget of the MACs run (default 45)")
    p.add_argument("--latency-budget-min", type=float, default=10.0, help="budget of the latency-targeted run (0: skip it)")
    p.add_argument("--macs-ratio", type=float, default=0.5)
    p.add_argument("--latency-frac", type=float, default=0.6, help="latency target as a fraction of the original p50")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--final-share", type=float, default=0.5, help="share of the fine-tune budget spent after the last step")
    p.add_argument("--importance", default="l2", choices=["l1", "l2", "bn", "taylor"])
    p.add_argument("--allocation", default="global", choices=["uniform", "global"])
    p.add_argument("--max-layer-ratio", type=float, default=0.75)
    p.add_argument("--round-to", type=int, help="keep channel counts multiples of N (e.g. 8: friendlier to ORT kernels)")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads for latency")
    p.add_argument("--max-train", type=int, help="subset of the 20k training images (smoke runs)")
    p.add_argument("--max-val", type=int, help="subset of the 5k val images (smoke runs)")
    p.add_argument("--out", help="output folder (default ~/.edgecv/benchmarks/prune_resnet56-<time>)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def main() -> None:
    import torch

    from edgecv.data import DataSpec, build_data
    from edgecv.data.loaders import make_loader
    from edgecv.models import create_model, data_config, save_model
    from edgecv.utils.io import write_json, write_text

    args = parse_args()
    ckpt, root = SHARED / "teachers" / "resnet56-4bfd9763.th", SHARED / "cifar10"
    for path in (ckpt, root):
        if not path.exists():
            raise SystemExit(f"offline data not found: {path} (see ../shared/data/README.md)")
    out = Path(args.out) if args.out else Path.home() / ".edgecv" / "benchmarks" / f"prune_resnet56-{datetime.now():%Y%m%d-%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    teacher = create_model("cifar_resnet56", checkpoint=ckpt).eval()
    data = build_data(DataSpec(source="imagefolder", root=str(root), max_train=args.max_train, max_val=args.max_val),
                      data_config(teacher), args.seed)
    train = make_loader(data.train, args.batch_size, True, args.seed, workers=0)
    val = make_loader(data.val, 500, False, args.seed, workers=0)
    print(f"data: {len(data.train)} train / {len(data.val)} val images; threads: torch {torch.get_num_threads()}, ORT {args.threads}")

    cost = measure_costs(teacher, train, val)
    print(f"measured: {cost['s_per_iter']:.3f} s per KD iteration (batch {args.batch_size}), {cost['s_val']:.1f} s per val pass")
    results = {"machine": machine(), "args": vars(args), "costs": cost}

    student = copy.deepcopy(teacher)
    macs_run = run(student, teacher, train, val, args, cost, args.budget_min, {"macs_ratio": args.macs_ratio}, out / "macs")
    save_model(student, out / "resnet56_pruned.pt", {"class_names": data.class_names})
    results["macs_run"] = macs_run
    before_after = compare(teacher, student, macs_run, args.threads, out)
    results["before_after"] = before_after
    text = "## ResNet-56 -> <= %.2fx MACs, KD fine-tune (%s)\n\n" % (args.macs_ratio, macs_run["budget"])
    text += before_after_markdown(before_after) + "\n### steps\n\n" + macs_run["table"]

    if args.latency_budget_min > 0:
        target = round(args.latency_frac * before_after["original"]["latency_ms_p50"], 4)
        lat_student = copy.deepcopy(teacher)
        lat_run = run(lat_student, teacher, train, val, args, cost, args.latency_budget_min,
                      {"latency_ms": target, "backend": "onnxruntime", "threads": args.threads}, out / "latency")
        results["latency_run"] = lat_run
        text += (f"\n## latency-targeted: p50 <= {target} ms on onnxruntime ({args.threads} threads) = "
                 f"{args.latency_frac:.2f}x the original ({lat_run['budget']}); met: {lat_run['met']}\n\n" + lat_run["table"])
    write_json(out / "results.json", results)
    write_text(out / "report.md", text)
    print("\n" + text + f"\nfiles: {out}")


def measure_costs(teacher, train, val) -> dict:
    """Seconds per KD iteration (student = unpruned copy: an upper bound) and per val pass."""
    import torch

    from edgecv.distill import build_distiller
    from edgecv.eval.metrics import evaluate

    student = copy.deepcopy(teacher).train()
    task = build_distiller(student, [teacher], [{"name": "kd"}], next(iter(train))[0][:2])
    opt = torch.optim.SGD([p for p in task.parameters() if p.requires_grad], lr=1e-4)
    times = []
    for i, (x, y) in enumerate(train):
        t0 = time.perf_counter()
        loss, _ = task(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
        if i == 5:
            break
    for h in task.s_tap.handles + [h for t in task.t_taps for h in t.handles]:
        h.remove()
    t0 = time.perf_counter()
    evaluate(teacher, val)
    return {"s_per_iter": statistics.median(times[1:]), "s_val": time.perf_counter() - t0, "iters_per_epoch": len(train)}


def plan(cost: dict, budget_min: float, steps: int, final_share: float) -> tuple[list[int], int, str]:
    """Fine-tune iterations per step and after the last one so the whole run fits `budget_min`."""
    # Fixed costs per step: val passes (fit's and ours), ONNX export + timing, pruning itself (~20 s).
    fixed = (steps + 1) * (2 * cost["s_val"] + 20) + 60
    iters = max(steps + 1, int((budget_min * 60 - fixed) / cost["s_per_iter"]))
    final = int(iters * final_share)
    per_step = max(1, (iters - final) // steps)
    epochs = (per_step * steps + final) / cost["iters_per_epoch"]
    return [per_step] * steps, final, f"budget {budget_min:g} min: {per_step * steps + final} KD iterations = {epochs:.2f} epochs"


def run(student, teacher, train, val, args, cost, budget_min, target: dict, out: Path) -> dict:
    from edgecv.prune.iterative import prune_model, steps_markdown
    from edgecv.prune.spec import PruneSpec

    per_step, final, budget = plan(cost, budget_min, args.steps, args.final_share)
    ipe = cost["iters_per_epoch"]
    step_epochs, step_cap = _epochs(per_step[0], ipe)
    spec = PruneSpec(**target, importance=args.importance, allocation=args.allocation, steps=args.steps,
                     max_layer_ratio=args.max_layer_ratio, round_to=args.round_to,
                     finetune={"epochs": step_epochs, "lr": args.lr, "max_steps_per_epoch": step_cap},
                     final_epochs=0, measure_latency=True)
    t0 = time.perf_counter()
    # teacher and student are both ResNet-56 with the same normalisation: no input adapter
    res = prune_model(student, spec, train_loader=train, val_loader=val, teacher=teacher,
                      input_shape=(1, 3, 32, 32), out_dir=out, seed=args.seed)
    if final and len(res.steps) > 1:  # the final fine-tune, sized by the plan (may be a fraction of an epoch)
        from edgecv.prune.finetune import finetune
        from edgecv.prune.measure import top1

        epochs, cap = _epochs(final, ipe)
        ft = spec.finetune.model_copy(update={"epochs": epochs, "max_steps_per_epoch": cap})
        t1 = time.perf_counter()
        finetune(student, train, val, ft, teacher, None, spec.kd_losses, out / "final", "cpu", "final fine-tune", args.seed)
        res.steps.append({**res.steps[-1], "step": "final", "top1": top1(student, val), "seconds": round(time.perf_counter() - t1, 1)})
    return {"budget": budget, "wall_min": round((time.perf_counter() - t0) / 60, 1), "met": res.met,
            "target": res.target, "steps": res.steps, "table": steps_markdown(res.steps)}


def _epochs(iters: int, per_epoch: int) -> tuple[int, int | None]:
    """(epochs, max_steps_per_epoch) giving about `iters` iterations."""
    if iters >= per_epoch:
        return max(1, round(iters / per_epoch)), None
    return 1, max(1, iters)


def compare(teacher, student, macs_run: dict, threads: int, out: Path, repeats: int = 3) -> dict:
    """Original vs pruned: ONNX Runtime p50 timed interleaved (median of `repeats`), plus size and top-1."""
    from edgecv.prune.measure import latency, size_of

    lat = {"original": [], "pruned": []}
    for _ in range(repeats):
        for name, model in (("original", teacher), ("pruned", student)):
            lat[name].append(latency(model, "onnxruntime", threads, (1, 3, 32, 32), out)["latency_ms_p50"])
    first, last = macs_run["steps"][0], macs_run["steps"][-1]
    return {name: {**size_of(model, (1, 3, 32, 32)), "top1": row["top1"], "latency_ms_p50": statistics.median(lat[name]),
                   "latency_runs": lat[name]}
            for name, model, row in (("original", teacher, first), ("pruned", student, last))}


def before_after_markdown(ba: dict) -> str:
    o, p = ba["original"], ba["pruned"]
    lines = ["| model | val top-1 (%) | MACs (M) | params (M) | ORT p50 (ms) |", "|---|---:|---:|---:|---:|"]
    for name, r in (("ResNet-56 (original)", o), ("ResNet-56 pruned + KD", p)):
        lines.append(f"| {name} | {r['top1']:.2f} | {r['macs'] / 1e6:.2f} | {r['params'] / 1e6:.3f} | {r['latency_ms_p50']:.3f} |")
    lines.append(f"| ratio | {p['top1'] - o['top1']:+.2f} pts | {p['macs'] / o['macs']:.3f}x | "
                 f"{p['params'] / o['params']:.3f}x | {p['latency_ms_p50'] / o['latency_ms_p50']:.3f}x |")
    return "\n".join(lines) + "\n"


def machine() -> dict:
    import os
    import platform

    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "python": platform.python_version()}


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    main()
