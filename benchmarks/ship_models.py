"""Build, measure and ship the deployable CIFAR-10 models in `benchmarks/models/`.

    python benchmarks/ship_models.py [--rounds 7] [--threads 2] [--kd-run DIR ...] [--no-ship]

Candidates: the pretrained CIFAR-10 ResNet-20/32/44 of `../shared/data/teachers` (the teacher's family), and any
`--kd-run` (an `edgecv run` folder whose student was distilled from the teacher), each built as INT8 for TFLite
(NHWC, what a phone feeds) and for ONNX Runtime at the `x86-avx2` target (7-bit weights: accurate on every x86
CPU, VNNI or not, and on ARM). The teacher, ResNet-56, is built as FP32 for both runtimes as the reference.

Every artifact is scored on the 5,000 val images (top-1, and agreement with its own PyTorch source), then all are
timed interleaved (batch 1, `--threads`, `--rounds` round-robin rounds) so each speed-up is over the teacher's
FP32 build on the same runtime, measured side by side. Per runtime the fastest artifact within `--max-drop`
top-1 points of the teacher is shipped to `benchmarks/models/` with its sidecar and the CIFAR-10 class names
(unless `--no-ship`), and the table printed here is what `benchmarks/RESULTS.md` shows under "Shipped models";
`tests/benchmarks/test_shipped_models.py` checks the shipped files against that table.
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared" / "data").resolve()
TEACHERS = SHARED / "teachers"
CHECKPOINTS = {"cifar_resnet20": "resnet20-12fca82f.th", "cifar_resnet32": "resnet32-d509ac18.th",
               "cifar_resnet44": "resnet44-014dd654.th", "cifar_resnet56": "resnet56-4bfd9763.th"}
TEACHER = "cifar_resnet56"
MODELS = ROOT / "benchmarks" / "models"
MAX_SHIPPED_MB = 10.0
# (runtime, precision, target, suffix): what is built for every candidate
BUILDS = [("tflite", "int8", None, ".tflite"), ("onnxruntime", "int8", "x86-avx2", ".onnx")]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=SHARED / "cifar10", help="CIFAR-10 folder with train/ and val/")
    p.add_argument("--kd-run", type=Path, action="append", default=[], help="an edgecv run folder: its student too")
    p.add_argument("--pretrained", default=",".join(m for m in CHECKPOINTS if m != TEACHER),
                   help="the pretrained ResNets that are candidates, comma-separated ('' for none)")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-drop", type=float, default=1.0, help="top-1 points below the teacher a shipped model may be")
    p.add_argument("--work", type=Path, default=None, help="where to build (default: a temporary folder)")
    p.add_argument("--no-ship", action="store_true", help="measure only; leave benchmarks/models/ as it is")
    p.add_argument("--emulate", default="x86-avx2,arm64", help="CPU classes the chosen files are also scored on under "
                   "QEMU ('' for none; `edgecv emulate setup` first)")
    p.add_argument("--emulate-images", type=int, default=1000, help="a stratified subset of val, per emulated class")
    return p.parse_args(argv)


def candidates(args) -> dict[str, object]:
    """name -> the loaded model."""
    from edgecv.app import load_model

    wanted = {TEACHER, *(m for m in args.pretrained.split(",") if m)}
    unknown = wanted - set(CHECKPOINTS)
    if unknown:
        raise SystemExit(f"--pretrained: unknown model(s) {', '.join(sorted(unknown))}; known: {', '.join(CHECKPOINTS)}")
    out = {model: load_model(model, checkpoint=TEACHERS / ckpt) for model, ckpt in CHECKPOINTS.items() if model in wanted}
    for run in args.kd_run:
        loaded = load_model(run)
        # e.g. cifar_resnet56-pruned-tflite: the architecture, then the run that made it
        out[f"{loaded.meta.get('spec', {}).get('name', 'model')}-{run.name}"] = loaded
    return out


def build(args, models: dict, work: Path) -> list[dict]:
    from edgecv.app import export

    calib = args.data / "train"
    class_names = sorted(d.name for d in (args.data / "val").iterdir() if d.is_dir())  # ImageFolder's order
    items = []
    for name, loaded in models.items():
        plans = [(rt, "fp32", None, sfx) for rt, _, _, sfx in BUILDS] if name == TEACHER else BUILDS
        for runtime, precision, target, suffix in plans:
            stem = f"{name}-{precision}" + (f"-{target}" if target else "")
            path = work / f"{stem}{suffix}"
            print(f"building {path.name}", flush=True)
            export(loaded, path, to=runtime, precision=precision, target=target, class_names=class_names,
                   calib_data=calib if precision == "int8" else None)
            items.append({"name": name, "file": path, "runtime": runtime, "precision": precision,
                          "target": target or "host", "teacher": name == TEACHER})
    return items


def score(args, items: list[dict]) -> None:
    from edgecv.app import benchmark

    for it in items:
        row = benchmark(it["file"], data=args.data / "val", threads=args.threads, timing=_quick_timing()).rows[0]
        it.update(top1=row["top1"], agreement=row.get("agreement"), status=row["status"], note=row.get("note"),
                  mb=round(sum(p.stat().st_size for p in _files(it["file"])) / 1e6, 3))
        print(f"scored {it['file'].name}: top-1 {it['top1']:.2f} %, agreement {it['agreement']} %", flush=True)


def time_all(args, items: list[dict]) -> None:
    import numpy as np

    from edgecv.backends import BACKENDS
    from edgecv.backends.files import open_artifact
    from edgecv.bench.interleave import time_interleaved

    runners, inputs = {}, {}
    for it in items:
        art = open_artifact(it["file"])
        runners[it["file"].name] = BACKENDS.get(art.backend).load(art, threads=args.threads)
        shape = [1, *art.metadata.input_shape[1:]]
        inputs[it["file"].name] = np.random.default_rng(0).random(shape, dtype=np.float32)
    res = time_interleaved({n: (lambda x, r=r: r(x)) for n, r in runners.items()}, inputs, rounds=args.rounds)
    teacher_ms = {it["runtime"]: res[it["file"].name]["latency_ms_p50"] for it in items if it["teacher"]}
    for it in items:
        t = res[it["file"].name]
        it.update(p50_ms=t["latency_ms_p50"], spread_pct=t["spread_pct"], other_load_pct=t["busy_other_pct"],
                  speedup=teacher_ms[it["runtime"]] / t["latency_ms_p50"])


def choose(args, items: list[dict]) -> list[dict]:
    """Per runtime, the fastest INT8 artifact within --max-drop of the teacher's top-1 with status ok."""
    teacher_top1 = {it["runtime"]: it["top1"] for it in items if it["teacher"]}
    chosen = []
    for runtime in dict.fromkeys(it["runtime"] for it in items):
        ok = [it for it in items if it["runtime"] == runtime and not it["teacher"] and it["status"] == "ok"
              and teacher_top1[runtime] - it["top1"] <= args.max_drop]
        if ok:
            chosen.append(max(ok, key=lambda it: it["speedup"]))
    for it in items:
        it["shipped"] = it in chosen
    return chosen


def per_target(args, chosen: list[dict]) -> str:
    """What to deploy on each CPU class: the chosen files scored on emulated CPUs (accuracy; their speed is not
    the target's), beside this machine's run of the same images."""
    from edgecv.app import benchmark

    names = [n for n in args.emulate.split(",") if n]
    lines = ["| CPU class | file | images | top-1 % | agree % | same top-1 as this CPU % | status |",
             "|---|---|---|---|---|---|---|"]
    for it in chosen:
        lines.append(f"| this CPU | {it['file'].name} | 5000 | {it['top1']:.2f} | {it['agreement']:.2f} | 100.00 | "
                     f"{it['status']} |")
        if not names:
            continue
        rows = benchmark(it["file"], data=args.data / "val", threads=args.threads, emulate=names,
                         emulate_images=args.emulate_images, timing=_quick_timing()).rows
        for r in rows:
            if r.get("emulated"):
                lines.append(f"| {r['emulated']} (emulated) | {it['file'].name} | {r.get('images')} | {r['top1']:.2f} | "
                             f"{r['agreement']:.2f} | {r.get('same_as_host', float('nan')):.2f} | {r['status']} |")
    return "\n".join(lines)


def _quick_timing():
    from edgecv.utils.timing import TimingConfig

    return TimingConfig(warmup=1, min_runs=3, min_time_s=0.05)  # the emulated rows' accuracy is what is wanted


def ship(chosen: list[dict]) -> None:
    total = sum(it["mb"] for it in chosen)
    if total > MAX_SHIPPED_MB:
        raise SystemExit(f"the chosen models take {total:.1f} MB > {MAX_SHIPPED_MB} MB; nothing shipped")
    MODELS.mkdir(parents=True, exist_ok=True)
    for it in chosen:
        model, sidecar = _files(it["file"])
        meta = json.loads(sidecar.read_text())
        # the weights' path as seen from the repository root (where README commands run), not this machine's:
        # `edgecv bench` compares with them where ../shared is there, and benchmarks without parity elsewhere
        src = Path(meta["extra"].get("source_checkpoint", ""))
        if src.is_relative_to(SHARED):
            meta["extra"]["source_checkpoint"] = str(Path("..", "shared", "data", src.relative_to(SHARED)))
        for name, write in ((model.name, lambda t: shutil.copyfile(model, t)),
                            (sidecar.name, lambda t: t.write_text(json.dumps(meta, indent=2)))):
            tmp = MODELS / f".{name}.tmp"
            write(tmp)
            tmp.replace(MODELS / name)  # atomic: a reader never sees half a model
        print(f"shipped {MODELS / it['file'].name}")
    # the folder holds the chosen set: a model shipped earlier and not chosen now goes, with its sidecar
    keep = {p.name for it in chosen for p in _files(it["file"])}
    for old in sorted(MODELS.iterdir()):
        if old.name not in keep and (old.suffix in (".tflite", ".onnx") or old.name.endswith(".edgecv.json")):
            old.unlink()
            print(f"removed {old} (no longer chosen)")


def _files(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + ".edgecv.json")]


def table(items: list[dict], args) -> str:
    from edgecv.bench import fingerprint

    env = fingerprint(args.threads)
    teacher_top1 = {it["runtime"]: it["top1"] for it in items if it["teacher"]}
    head = ("| file | runtime | precision | target | top-1 % | Δ teacher pt | agree % | p50 ms | x teacher | MB | "
            "shipped |\n|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for it in items:
        lines.append(f"| {it['file'].name} | {it['runtime']} | {it['precision']} | {it['target']} | {it['top1']:.2f} | "
                     f"{it['top1'] - teacher_top1[it['runtime']]:+.2f} | {it['agreement']:.2f} | {it['p50_ms']:.3f} | "
                     f"{it['speedup']:.2f} | {it['mb']:.2f} | {'yes' if it['shipped'] else '-'} |")
    lines.append(f"\nMachine: {env['cpu']} ({', '.join(env['cpu_features'])}), {env['cpu_count']} cores, {args.threads} threads, batch 1, {args.rounds} interleaved "
                 f"rounds; highest other load while timed: {max(it['other_load_pct'] or 0 for it in items):.0f} %. "
                 f"Python {platform.python_version()}, " + ", ".join(f"{k} {v}" for k, v in env["libraries"].items()) + ".")
    return "\n".join(lines)


def run(args) -> dict:
    """Build, score, time, choose (and ship unless --no-ship); returns the two tables and the items."""
    if not (args.data / "val").is_dir():
        raise SystemExit(f"{args.data / 'val'}: no CIFAR-10 val folder (see ../shared/data/README)")
    with tempfile.TemporaryDirectory(prefix="edgecv-ship-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        items = build(args, candidates(args), work)
        score(args, items)
        time_all(args, items)
        chosen = choose(args, items)
        measured = table(items, args)
        print(measured)
        if not args.no_ship:
            ship(chosen)
        targets = per_target(args, chosen)
        print(targets)
        listed = [{**it, "file": it["file"].name} for it in items]
        (work / "ship.json").write_text(json.dumps(listed, indent=1))
    return {"table": measured, "per_target": targets, "items": listed}


def main(argv=None) -> int:
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
