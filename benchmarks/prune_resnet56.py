"""Benchmark: CIFAR-10 ResNet-56 pruned to <= 0.5x MACs with KD fine-tuning, within a stated CPU budget.

    python benchmarks/prune_resnet56.py                      # the full run: <= 45 min on 2 cores
    python benchmarks/prune_resnet56.py --budget-min 3 --max-train 2000 --max-val 500 --latency-budget-min 1  # smoke

Teacher: ../shared/data/teachers/resnet56-4bfd9763.th (92.86 % on the 5k shared val split). The student
starts as a copy of it, is pruned (by default in one step: global first-order Taylor group importance,
widths rounded to multiples of 8 so ONNX Runtime's kernels run them fast) and fine-tuned with Hinton KD
from the unpruned teacher on CutMix/mixup batches (the teacher labels the mixed images: with only 20k
train images, plain KD fits them to 99 % and stalls on val), in bf16 autocast and channels-last
(about 1.9x faster than fp32 NCHW on this AVX512-BF16 CPU). The budget is measured, not guessed: we time
KD iterations and a val pass first, give any fine-tunes between steps --step-share of it (default 0), then time the
pruned student's own iterations and fine-tune it for as many epochs as the rest of --budget-min allows,
with the cosine driven by the clock too (`time_limit_min`): a machine that slows down mid-run still ends
on time, annealed.
No epoch is picked on the val split it is reported on: by default the last epoch of the cosine schedule
is kept (--keep last), or --holdout N train images pick the best one (--keep best).
Reports val top-1, MACs, params and ONNX Runtime p50 (batch 1,
--threads) before and after (latencies timed side by side, interleaved, because the machine is shared),
every step's table, and one latency-targeted run (--latency-frac of the measured original p50, up to
--latency-steps steps; --budget-min 0 runs it alone).
Writes results.json, the tables and the pruned model to --out (default ~/.edgecv/benchmarks/...).
"""
from __future__ import annotations

import argparse
import copy
import math
import statistics
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared" / "data"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget-min", type=float, default=45.0, help="CPU budget of the MACs run, all of it (default 45; 0: skip it)")
    p.add_argument("--latency-budget-min", type=float, default=10.0, help="budget of the latency-targeted run (0: skip it)")
    p.add_argument("--macs-ratio", type=float, default=0.5)
    p.add_argument("--latency-frac", type=float, default=0.7, help="latency target as a fraction of the original p50")
    p.add_argument("--steps", type=int, default=1, help="pruning steps of the MACs run")
    p.add_argument("--latency-steps", type=int, default=3,
                   help="most steps of the latency run: each step's measured p50 steers the next one")
    p.add_argument("--step-share", type=float, default=0.0,
                   help="share of the budget for the fine-tunes between steps; the rest goes to the final one "
                        "(0: prune in one go, then one long fine-tune)")
    p.add_argument("--importance", default="taylor", choices=["l1", "l2", "bn", "taylor"])
    p.add_argument("--allocation", default="global", choices=["uniform", "global"])
    p.add_argument("--max-layer-ratio", type=float, default=0.75)
    p.add_argument("--round-to", type=int, default=8, help="keep channel counts multiples of N (8: friendlier to ORT kernels; 1: off)")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--amp", default="bf16", choices=["off", "bf16"], help="autocast for fine-tuning (bf16: ~1.9x on AVX512-BF16 CPUs)")
    p.add_argument("--no-channels-last", action="store_true", help="fine-tune in NCHW instead of NHWC")
    p.add_argument("--holdout", type=int, default=0,
                   help="train images held out to pick each fine-tune's best epoch (0: none; with --keep best the "
                        "epoch is then picked on val, which is optimistic)")
    p.add_argument("--keep", default="last", choices=["best", "last"],
                   help="last: keep each fine-tune's last epoch, no selection at all (use with --holdout 0: all "
                        "train images train, and the final fine-tune skips per-epoch evaluation)")
    p.add_argument("--mixup", type=float, default=0.2, help="mixup alpha for the KD fine-tunes (the teacher labels the mixed images)")
    p.add_argument("--cutmix", type=float, default=1.0, help="CutMix alpha for the KD fine-tunes")
    p.add_argument("--mix-prob", type=float, default=1.0, help="share of batches mixed")
    p.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads for latency")
    p.add_argument("--max-train", type=int, help="subset of the 20k training images (smoke runs)")
    p.add_argument("--max-val", type=int, help="subset of the 5k val images (smoke runs)")
    p.add_argument("--out", help="output folder (default ~/.edgecv/benchmarks/prune_resnet56-<time>)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def main() -> None:
    import torch

    from edgecv.bench import fingerprint
    from edgecv.models import create_model, save_model
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
    train, select, val, class_names = loaders(teacher, root, args)
    print(f"data: {len(train.dataset)} train / {len(select.dataset) if select else 0} held out for epoch selection / "
          f"{len(val.dataset)} val images; threads: torch {torch.get_num_threads()}, ORT {args.threads}; "
          f"fine-tune amp {args.amp}, channels_last {not args.no_channels_last}")

    cost = measure_costs(teacher, train, val, args)
    print(f"measured: {cost['s_per_iter']:.3f} s per KD iteration of the unpruned student (batch {args.batch_size}), "
          f"{cost['s_val']:.1f} s per val pass")
    results = {"environment": fingerprint(args.threads), "args": vars(args), "costs": cost}

    text = ""
    if args.budget_min > 0:
        student = copy.deepcopy(teacher)
        macs_run = run(student, teacher, train, select, val, args, cost, args.budget_min, {"macs_ratio": args.macs_ratio},
                       out / "macs", args.steps)
        save_model(student, out / "resnet56_pruned.pt", {"class_names": class_names})
        results["macs_run"] = macs_run
        before_after = compare(teacher, student, macs_run, args.threads, out)
        results["before_after"] = before_after
        original_ms = before_after["original"]["latency_ms_p50"]
        text = "## ResNet-56 -> <= %.2fx MACs, KD fine-tune (%s)\n\n" % (args.macs_ratio, macs_run["budget"])
        text += before_after_markdown(before_after) + "\n### steps\n\n" + macs_run["table"]
    else:  # latency run only: time the original on its own
        from edgecv.prune.measure import latency

        original_ms = statistics.median(latency(teacher, "onnxruntime", args.threads, (1, 3, 32, 32), out)["latency_ms_p50"]
                                        for _ in range(3))

    if args.latency_budget_min > 0:
        target = round(args.latency_frac * original_ms, 4)
        lat_student = copy.deepcopy(teacher)
        lat_run = run(lat_student, teacher, train, select, val, args, cost, args.latency_budget_min,
                      {"latency_ms": target, "backend": "onnxruntime", "threads": args.threads}, out / "latency",
                      args.latency_steps)
        results["latency_run"] = lat_run
        text += (f"\n## latency-targeted: p50 <= {target} ms on onnxruntime ({args.threads} threads) = "
                 f"{args.latency_frac:.2f}x the original ({lat_run['budget']}); met: {lat_run['met']}\n\n" + lat_run["table"])
    write_json(out / "results.json", results)
    write_text(out / "report.md", text)
    print("\n" + text + f"\nfiles: {out}")


def loaders(teacher, root: Path, args):
    """Train (augmented), a held-out stratified slice of the train images (eval transform) to pick
    epochs on, and val."""
    import numpy as np
    from torch.utils.data import Subset

    from edgecv.data import DataSpec, build_data
    from edgecv.data.loaders import make_loader
    from edgecv.data.subset import stratified_subset
    from edgecv.data.views import eval_view
    from edgecv.models import data_config

    data = build_data(DataSpec(source="imagefolder", root=str(root), max_train=args.max_train, max_val=args.max_val),
                      data_config(teacher), args.seed)
    train_set, select = data.train, None
    if args.holdout:
        if args.holdout >= len(data.train):
            raise SystemExit(f"--holdout {args.holdout} leaves no training images (of {len(data.train)})")
        held = stratified_subset(data.train, args.holdout, args.seed + 1).indices  # positions in data.train, sorted
        train_set = Subset(data.train, np.setdiff1d(np.arange(len(data.train)), held).tolist())
        # the held-out images seen through the eval transform (no augmentation)
        select = make_loader(Subset(eval_view(data.train, data.val), held), 500, False, args.seed, workers=0)
    train = make_loader(train_set, args.batch_size, True, args.seed, workers=0)
    val = make_loader(data.val, 500, False, args.seed, workers=0)
    return train, select, val, data.class_names


def measure_costs(teacher, train, val, args) -> dict:
    """Seconds per KD iteration (unpruned student: an upper bound), per teacher forward, per val pass."""
    from edgecv.eval.metrics import evaluate

    t_iter = time_kd_iterations(copy.deepcopy(teacher), teacher, train, args)
    t0 = time.perf_counter()
    evaluate(teacher, val)
    return {"s_per_iter": t_iter, "s_val": time.perf_counter() - t0, "iters_per_epoch": len(train)}


def time_kd_iterations(student, teacher, train, args, n: int = 10) -> float:
    """Wall seconds per KD iteration, timed through the fine-tune itself (same amp, memory format and
    mixing, with the real loader inside the span) at a negligible lr; a short untimed run first warms
    up the kernels."""
    from edgecv.distill import KDTeacher
    from edgecv.prune.finetune import finetune
    from edgecv.prune.spec import FinetuneSpec

    def short_run(steps: int) -> None:
        spec = FinetuneSpec(**{**finetune_settings(args), "epochs": 1, "max_steps_per_epoch": steps, "lr": 1e-9, "keep": "last"})
        finetune(student, train, None, spec, KDTeacher(teacher), desc="timing", seed=args.seed)

    short_run(2)
    t0 = time.perf_counter()
    short_run(n)
    return (time.perf_counter() - t0) / n


def finetune_settings(args) -> dict:
    """The fine-tune keys every KD fine-tune of this benchmark shares (and its timing runs use)."""
    return {"lr": args.lr, "amp": args.amp, "channels_last": not args.no_channels_last, "keep": args.keep,
            "mixup": args.mixup, "cutmix": args.cutmix, "mix_prob": args.mix_prob}


def run(student, teacher, train, select, val, args, cost, budget_min, target: dict, out: Path, steps: int) -> dict:
    """Prune in --steps steps (fine-tunes between them take --step-share of the budget), then fine-tune
    for whatever is left of the budget: the final fine-tune is sized from the pruned student's own
    measured iteration time, so the whole run ends within `budget_min`."""
    from edgecv.distill import KDTeacher
    from edgecv.prune.finetune import finetune
    from edgecv.prune.iterative import prune_model, steps_markdown
    from edgecv.prune.measure import top1
    from edgecv.prune.spec import PruneSpec

    t0 = time.perf_counter()
    deadline = t0 + budget_min * 60
    ipe = len(train)
    step_iters = int(args.step_share * budget_min * 60 / steps / cost["s_per_iter"])
    step_epochs, step_cap = _epochs(step_iters, ipe) if step_iters else (0, None)  # 0: all of it to the final
    ft = {**finetune_settings(args), "epochs": step_epochs, "max_steps_per_epoch": step_cap}
    spec = PruneSpec(**target, importance=args.importance, allocation=args.allocation, steps=steps,
                     max_layer_ratio=args.max_layer_ratio, round_to=args.round_to, finetune=ft,
                     final_epochs=0, measure_latency=True)
    # teacher and student are both ResNet-56 with the same normalisation: no input adapter
    res = prune_model(student, spec, train_loader=train, val_loader=val, select_loader=select, teacher=teacher,
                      input_shape=(1, 3, 32, 32), out_dir=out, seed=args.seed)
    final = "no final fine-tune"
    if len(res.steps) > 1:
        s_iter = time_kd_iterations(student, teacher, train, args)
        # keep last without a held-out slice: nothing to evaluate per epoch (val is measured once, at the end)
        monitor = select if select is not None else (val if args.keep == "best" else None)
        s_select = cost["s_val"] * len(monitor.dataset) / len(val.dataset) if monitor is not None else 0.0
        left = deadline - time.perf_counter() - cost["s_val"] - 15  # the last val pass, saving, slack
        epochs, cap = _epochs(int(left / s_iter), ipe)
        if cap is None:
            # plan 10 % more epochs than the measured speed allows and let the clock anneal the cosine: a
            # steady machine ends on time, and a machine that slows down mid-run still ends on time, annealed
            epochs = max(1, math.ceil(1.1 * left / (ipe * s_iter + s_select)))
        if left > 10 * s_iter:
            t1 = time.perf_counter()
            summary = finetune(student, train, monitor, spec.finetune.model_copy(
                update={"epochs": epochs, "max_steps_per_epoch": cap, "time_limit_min": left / 60}),
                KDTeacher(teacher, None, spec.kd_losses), out / "final", device="cpu", desc="final fine-tune", seed=args.seed)
            res.steps.append({**res.steps[-1], "step": "final", "top1": top1(student, val), "seconds": round(time.perf_counter() - t1, 1)})
            final = (f"then {summary['epochs_run']} of {epochs} planned epochs of {ipe} iterations"
                     + (", cosine annealed by the clock" if summary["time_up"] else ""))
    wall = (time.perf_counter() - t0) / 60
    step_total = sum(r.get("finetune_epochs", 0) for r in res.steps)
    n_steps = len(res.steps) - 1 - (final != "no final fine-tune")
    budget = f"budget {budget_min:g} min, used {wall:.1f}: {n_steps} step(s) x {step_iters} KD iterations, {final}"
    return {"budget": budget, "wall_min": round(wall, 1), "met": res.met, "target": res.target, "steps": res.steps,
            "step_finetune_epochs": step_total, "final": final, "table": steps_markdown(res.steps)}


def _epochs(iters: int, per_epoch: int) -> tuple[int, int | None]:
    """(epochs, max_steps_per_epoch) giving about `iters` iterations (whole epochs once past one)."""
    if iters >= per_epoch:
        return max(1, iters // per_epoch), None
    return 1, max(1, iters)


def compare(teacher, student, macs_run: dict, threads: int, out: Path, repeats: int = 3) -> dict:
    """Original vs pruned: ONNX Runtime latency timed side by side in `repeats` interleaved rounds
    (p50 = the median of the per-round p50s), plus size and top-1."""
    import tempfile

    import numpy as np
    import torch

    from edgecv.backends import BACKENDS
    from edgecv.backends.build import build_artifact
    from edgecv.bench import TimingConfig, time_interleaved
    from edgecv.prune.measure import size_of

    pair = {"original": teacher.eval(), "pruned": student.eval()}
    with tempfile.TemporaryDirectory(prefix="edgecv-compare-", dir=out) as tmp:
        runners = {}
        for name, model in pair.items():
            res = build_artifact("onnxruntime", model, torch.zeros(1, 3, 32, 32), Path(tmp) / name)
            if res.status != "ok":
                raise RuntimeError(f"cannot time the {name} model on onnxruntime: {res.status}: {res.error}")
            runners[name] = BACKENDS.get(res.backend).load(res.artifact, threads)
        x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
        lat = time_interleaved(runners, x, repeats, TimingConfig(warmup=10, min_runs=50, min_time_s=1.0))
    first, last = macs_run["steps"][0], macs_run["steps"][-1]
    return {name: {**size_of(model, (1, 3, 32, 32)), "top1": row["top1"], "latency_ms_p50": lat[name]["latency_ms_p50"],
                   "latency_ms_p90": lat[name]["latency_ms_p90"], "latency_runs": lat[name]["round_p50_ms"],
                   "latency_spread_pct": lat[name]["spread_pct"]}
            for name, model, row in (("original", teacher, first), ("pruned", student, last))}


def before_after_markdown(ba: dict) -> str:
    from edgecv.bench import markdown_table

    o, p = ba["original"], ba["pruned"]
    cols = [("name", "model", "{}"), ("top1", "val top-1 (%)", "{:.2f}"), ("macs_m", "MACs (M)", "{:.2f}"),
            ("params_m", "params (M)", "{:.3f}"), ("latency_ms_p50", "ORT p50 (ms)", "{:.3f}")]
    rows = [{"name": name, "top1": r["top1"], "macs_m": r["macs"] / 1e6, "params_m": r["params"] / 1e6,
             "latency_ms_p50": r["latency_ms_p50"]}
            for name, r in (("ResNet-56 (original)", o), ("ResNet-56 pruned + KD", p))]
    rows.append({"name": "ratio", "top1": f"{p['top1'] - o['top1']:+.2f} pts", "macs_m": f"{p['macs'] / o['macs']:.3f}x",
                 "params_m": f"{p['params'] / o['params']:.3f}x",
                 "latency_ms_p50": f"{p['latency_ms_p50'] / o['latency_ms_p50']:.3f}x"})
    return markdown_table(rows, cols)


if __name__ == "__main__":
    main()
