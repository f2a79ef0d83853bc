"""The CIFAR-10 study: from the ResNet-56 teacher to what to deploy, in one ledger.

    python benchmarks/cifar10/study.py [--out DIR] [--scale 1.0] [--only PART ...] [--all] [--ship] [--no-deploy]
        [--threads 2] [--max-train N] [--max-val N] [--macs-fraction F] [--rounds 5]

The default spends its ~90 minutes on 2 CPU cores on the few models that can win (depth over breadth). Parts
(each an edgecv recipe in this folder, run into DIR/parts/<part>; epochs of 20,000 images at --scale 1):

    teacher                  ResNet-56 (pretrained, ../shared/data/teachers): torch, ORT and TFLite FP32 + INT8
    pruned-tflite            candidate 1 for 5x within 1 pt: the teacher pruned to 0.37x MACs, the ratio that runs
                             ~5x the teacher in TFLite INT8 by the study's measured latency curve (global Taylor,
                             channels rounded to 8), in 3 steps with 1 KD epoch each, then 14 KD recovery epochs;
                             TFLite and ORT builds
    kd-resnet20              candidate 2: the pretrained ResNet-20 (91.6 %, already 5x in TFLite INT8) fine-tuned by
                             KD from the teacher, 5 epochs at lr 0.002, teacher cached
    compare-{kd,ce}-s{0,1}   KD vs labels alone at equal budget: MobileNetV2-0.5 on a 5,000-image subset, 6 epochs,
                             seeds 0 and 1 (no builds)
    kd-cifar_mobilenetv2_050 one MobileNet trained long: 12 KD epochs, teacher cached (4 views), CutMix on half the
                             batches (the teacher labels the mixed images)

`--all` adds the broad table of earlier rounds (every student at 4 epochs with its labels-only twin, MACs- and
ORT-latency pruning, the ResNet-20 + ResNet-56 ensemble): about 90 more minutes. `--scale 2` doubles every
schedule. Idle step times behind the budget (2-core AMD EPYC with AVX512-BF16, bf16 autocast, channels-last, 128
images): ResNet-56 0.43 s (its forward alone 0.10 s), MobileNetV2-0.5 0.56 s, MobileNetV3-small 0.64 s,
SqueezeNet 0.12 s. Every part's minutes are in study.md.

After the parts: every ONNX Runtime INT8 artifact under the INT8 agreement minimum (98.5 %) gets a sibling row,
`<name>-agree`, from the quantizer's budget loop with `min_agreement` (agreement_pass). One interleaved timing pass
(edgecv.bench.time_interleaved, `--rounds` rounds, batch 1, `--threads`) times every ONNX Runtime and TFLite
artifact beside the teacher's FP32 build on the same runtime. The deploy pass (benchmarks/ship_models.py) builds
the long parts' models and the pretrained ResNet-32 as INT8 for TFLite and for ONNX Runtime at the x86-avx2
target, times them beside the teacher, chooses per runtime the fastest within 1 pt, and scores the chosen files on
emulated AVX2 and ARM64 CPUs (`edgecv emulate setup` first); `--ship` copies them into benchmarks/models/.
It writes DIR/ledger (results.json, report.md, pareto.png), DIR/curves.png (val top-1 against epochs) and
DIR/study.md (the table, the targets beside the measured values, what to deploy per CPU class, the
accuracy-vs-epochs table, each part's minutes, the machine and the command) and prints them.

A killed study resumes where it stopped: rerun the same command (finished parts are skipped, an unfinished
part resumes at its last finished stage or epoch).
"""
from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))  # study_plan.py, beside this file
from study_plan import (BACKENDS, COMPARE_IMAGES, COMPARE_SEEDS, DEPLOY_CANDIDATES, DEPLOY_PRETRAINED,  # noqa: E402
                        HERE, MOBILENET, MOBILENET_EPOCHS, PRUNE_RECOVERY_EPOCHS, PRUNE_TFLITE_MACS, SHARED,
                        STUDENTS, TEACHER_CKPT, parts)

DONE = "study_part.json"  # written into a part's folder when it has finished


def run_part(part: dict, args, console) -> dict:
    """Run (or resume, or skip when finished) one part; returns its results.json plus its minutes."""
    import edgecv

    folder = args.out / "parts" / part["name"]
    done = folder / DONE
    if done.is_file():
        console.print(f"[dim]{part['name']}: finished earlier, skipped[/]")
        return {**json.loads((folder / "results.json").read_text()), **json.loads(done.read_text())}
    console.rule(f"study part {part['name']}")
    t0 = time.perf_counter()
    resume = folder.is_dir() and any(folder.iterdir())
    edgecv.run(HERE / part["recipe"], out_dir=folder, resume=resume, overrides=part["set"])
    # a resumed part's minutes are those of this invocation only: `resumed` says so
    info = {"part": part["name"], "minutes": round((time.perf_counter() - t0) / 60, 2), "resumed": resume}
    from edgecv.utils.io import write_json

    write_json(done, info)
    return {**json.loads((folder / "results.json").read_text()), **info}


def study_rows(results: dict[str, dict]) -> list[dict]:
    """Every benchmark row of every part, labelled by part; the teacher's rows once (from its part)."""
    rows = []
    for name, res in results.items():
        for r in res.get("rows", []):
            if r.get("kind") == "prune_step" or r.get("latency_ms_p50") is None and r.get("status") is None:
                continue  # pruning-step log and plain evaluate rows
            if r.get("role") == "teacher" and name != "teacher":
                if name != "ensemble":
                    continue
                r = {**r, "role": "ensemble teacher"}
            elif name != "teacher":
                r = {**r, "role": name}
            rows.append({**r, "part": name})
    return rows


AGREE_SUFFIX = "-agree"
FP32_TARGET_AGREEMENT = 99.5  # the target for FP32/FP16 builds (stricter than the harness's 99.0)


def build_agree_sibling(fp32_path: str, out: str, record_file: str, threads: int, max_val: int | None) -> None:
    """The min-agreement loop on one FP32 ONNX file (agreement_pass runs it in a child process): tuned on a
    stratified half of the val images, scored on all of them; writes the sibling and its record."""
    import numpy as np

    from edgecv.backends import Artifact
    from edgecv.bench import INT8_MIN_AGREEMENT, EvalSet
    from edgecv.data import CalibrationSource
    from edgecv.data.folder import image_folder
    from edgecv.data.subset import stratified_subset
    from edgecv.data.transforms import build_transform
    from edgecv.quantize import QuantizeSpec, quantize_onnx
    from edgecv.eval.logits import agreement
    from edgecv.quantize.measure import predictions
    from edgecv.utils.console import get_console
    from edgecv.utils.io import write_json

    console = get_console()
    meta = Artifact.from_path(fp32_path, "onnxruntime").metadata
    # the CIFAR models' data config (crop_pct 1.0): the 32 px images as they are, as in the runs
    transform = build_transform(False, meta.image_size, meta.mean, meta.std, None, 1.0)
    train = image_folder(SHARED / "cifar10" / "train", transform)
    val_ds = image_folder(SHARED / "cifar10" / "val", transform)
    if max_val:
        val_ds = stratified_subset(val_ds, max_val, 0)
    tuning = stratified_subset(val_ds, len(val_ds) // 2, 1)
    spec = QuantizeSpec(min_agreement=INT8_MIN_AGREEMENT, threads=threads)
    res = quantize_onnx(fp32_path, out, "int8", CalibrationSource(train, 256, 32, 0), spec=spec,
                        val=EvalSet(tuning, train.classes, batch_size=250), log=lambda line: console.print(f"    {line}"))
    val = EvalSet(val_ds, train.classes, batch_size=250)
    top1, preds = predictions(out, val, threads)
    ref = predictions(fp32_path, val, threads)[1]
    unseen = np.ones(len(val_ds), bool)
    unseen[tuning.indices] = False
    rep = res.report
    write_json(record_file, {"top1": top1, "agreement": agreement(preds, ref),
                             "unseen_agreement": agreement(preds[unseen], ref[unseen]),
                             "tuning_agreement": rep["agreement"], "tuning_met": rep["budget_met"],
                             "fp32_nodes": len(rep["kept_fp32"]), "int8_nodes": rep["int8_nodes"],
                             "steps": len(rep["steps"]) - 2})


def agreement_pass(rows: list[dict], args, console) -> None:
    """Each ONNX Runtime INT8 row under the INT8 agreement minimum gets a sibling (`<name>-agree`) from the
    quantizer's budget loop with `min_agreement`: its most sensitive nodes go back to FP32 until it predicts
    as the FP32 file does on >= the minimum of a stratified half of the val images. (Train images would not do:
    the models have seen them, and agree on them almost always.) The sibling's row is scored on all val images
    like every row, and its reason gives its agreement on the half the loop never saw. Resumable: a built
    sibling is reused."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from edgecv.bench import INT8_MIN_AGREEMENT
    from edgecv.bench.harness import Thresholds, judge, size_mb

    missed = [r for r in rows if r.get("backend") == "onnxruntime" and r.get("precision") == "int8"
              and r.get("status") == "inaccurate" and r.get("path") and not r["name"].endswith(AGREE_SUFFIX)]
    for r in missed:
        src = next((f for f in rows if (f.get("part"), f.get("role"), f.get("name"), f.get("backend")) ==
                    (r["part"], r["role"], r["name"], "onnxruntime") and f.get("precision") == "fp32" and f.get("path")), None)
        if src is None:
            continue
        out = args.out / "parts" / r["part"] / "int8_min_agreement" / Path(r["path"]).name.replace("-int8", "-int8-agree")
        record_file = out.with_suffix(".result.json")
        if not (out.is_file() and record_file.is_file()):
            console.print(f"[bold]{r['part']}[/]: {r['name']} ONNX Runtime INT8 agrees {r['agreement']:.2f}% < "
                          f"{INT8_MIN_AGREEMENT}%: budget loop with min_agreement")
            # in a child process: after the loop's hundreds of ONNX Runtime sessions, ORT rows timed in this
            # process ran up to 2x slower (0.999 vs 0.464 ms for the same file, measured)
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                pool.submit(build_agree_sibling, src["path"], str(out), str(record_file), args.threads, args.max_val).result()
        rec = json.loads(record_file.read_text())
        status, reason = judge({"agreement": rec["agreement"], "parity_on": "val", "top1": rec["top1"],
                                "reference_top1": src.get("top1")}, Thresholds(min_int8_agreement=INT8_MIN_AGREEMENT),
                               integer=True)
        kept = (f"min-agreement loop: {rec['fp32_nodes']} of {rec['fp32_nodes'] + rec['int8_nodes']} nodes kept FP32; "
                f"agreement {rec['tuning_agreement']:.2f}% on the val half it tuned on, {rec['unseen_agreement']:.2f}% on the other")
        rows.insert(rows.index(r) + 1, {**r, "name": r["name"] + AGREE_SUFFIX, "path": str(out), "top1": rec["top1"],
                                        "agreement": rec["agreement"], "status": status, "size_mb": size_mb(out),
                                        "reason": "; ".join(x for x in (reason, kept) if x)})


def interleaved_pass(rows: list[dict], args, console) -> None:
    """Re-time every ORT/TFLite artifact (batch 1) interleaved with the teacher's FP32 build on the same
    runtime; replaces their p50/p90/p99 and keeps the parts' own p50 as `latency_ms_p50_part`."""
    import numpy as np

    from edgecv.app import Predictor
    from edgecv.bench import TimingConfig, time_interleaved

    for backend in BACKENDS:
        entries = [r for r in rows if r.get("backend") == backend and r.get("path") and r.get("batch", 1) == 1
                   and r.get("status") in ("ok", "inaccurate")]
        if not entries:
            continue
        console.print(f"interleaved timing on {backend}: {len(entries)} artifacts x {args.rounds} rounds")
        runners, inputs = {}, {}
        for r in entries:
            key = f"{r['part']}|{r['name']}|{r['precision']}|{r['path']}"
            p = Predictor(r["path"], threads=args.threads)
            runners[key] = p.logits
            inputs[key] = np.zeros((1, 3, p.image_size, p.image_size), np.float32)
            r["_key"] = key
        timed = time_interleaved(runners, inputs, rounds=args.rounds,
                                 cfg=TimingConfig(warmup=20, min_runs=100, min_time_s=0.5, max_time_s=10))
        for r in entries:
            t = timed[r.pop("_key")]
            r["latency_ms_p50_part"] = r.get("latency_ms_p50")
            r.update(latency_ms_p50=t["latency_ms_p50"], latency_ms_p90=t["latency_ms_p90"],
                     latency_ms_p99=t["latency_ms_p99"], throughput_ips=t["throughput_ips"],
                     busy_other_pct=t["busy_other_pct"], timing="interleaved")


def curves(results: dict[str, dict]) -> list[dict]:
    """Val top-1 after every training epoch of every part that trained, in order (a pruning part's step
    fine-tunes, then its final recovery, numbered on): part, epoch, phase, val_top1, train_seconds."""
    import csv

    out = []
    for name, res in results.items():
        folder = Path(res.get("folder", ""))
        files = sorted((folder / "stages").glob("*_prune/step*/metrics.csv"), key=lambda f: int(f.parent.name[4:] or 0))
        files += sorted((folder / "stages").glob("*_prune/final/metrics.csv"))
        files += sorted((folder / "stages").glob("*_distill/metrics.csv")) + sorted((folder / "stages").glob("*_train/metrics.csv"))
        epoch = 0
        for f in files:
            phase = f.parent.name if "_prune" in f.parent.parent.name else f.parent.name.split("_", 1)[-1]
            for row in csv.DictReader(f.open()):
                if not row.get("val_top1"):
                    continue
                epoch += 1
                out.append({"part": name, "epoch": epoch, "phase": phase, "val_top1": float(row["val_top1"]),
                            "train_seconds": float(row["train_seconds"]) if row.get("train_seconds") else None})
    return out


def curve_table(points: list[dict], long_parts: list[str]) -> str:
    """The long parts' val top-1 per epoch, one column per part (markdown)."""
    by_part = {p: {c["epoch"]: c for c in points if c["part"] == p} for p in long_parts}
    by_part = {p: v for p, v in by_part.items() if v}
    if not by_part:
        return ""
    last = max(max(v) for v in by_part.values())
    lines = ["| epoch | " + " | ".join(by_part) + " |", "|---|" + "---|" * len(by_part)]
    for e in range(1, last + 1):
        cells = [f"{v[e]['val_top1']:.2f}" + (f" ({v[e]['phase']})" if v[e]["phase"].startswith("step") else "")
                 if e in v else "" for v in by_part.values()]
        lines.append(f"| {e} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_curves(points: list[dict], teacher_top1: float | None, path: Path) -> Path | None:
    """Val top-1 against epochs, one line per part, the teacher and its -1 pt / -5 pt lines dashed."""
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for part in dict.fromkeys(c["part"] for c in points):
        mine = [c for c in points if c["part"] == part]
        ax.plot([c["epoch"] for c in mine], [c["val_top1"] for c in mine], marker=".", label=part)
    if teacher_top1 is not None:
        for offset, label in ((0, "teacher"), (-1, "teacher - 1 pt"), (-5, "teacher - 5 pt")):
            ax.axhline(teacher_top1 + offset, ls="--", lw=0.8, color="grey")
            ax.text(0.5, teacher_top1 + offset, label, fontsize=7, va="bottom", color="grey")
    ax.set_xlabel("epoch (20,000 images; compare-*: 5,000)")
    ax.set_ylabel("val top-1 % (5,000 images)")
    ax.set_title("accuracy vs epochs")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def deploy_pass(results: dict[str, dict], args, console) -> dict | None:
    """What to deploy per CPU class and runtime: benchmarks/ship_models.py on the long parts' models and the
    pretrained ResNet-32, with INT8 for TFLite and for ONNX Runtime at the x86-avx2 target (accurate with or
    without VNNI), all timed interleaved beside the teacher; the chosen files scored on emulated AVX2 and ARM64.
    `--ship` also copies the chosen files into benchmarks/models/."""
    sys.path.insert(0, str(HERE.parent))
    import ship_models

    runs = [Path(results[n]["folder"]) for n in DEPLOY_CANDIDATES if n in results]
    argv = [f"--data={SHARED / 'cifar10'}", f"--threads={args.threads}", f"--rounds={args.rounds}",
            f"--pretrained={','.join(DEPLOY_PRETRAINED)}", f"--work={args.out / 'deploy'}"]
    argv += [f"--kd-run={r}" for r in runs] + ([] if args.ship else ["--no-ship"])
    from edgecv.bench.emulate.provision import find

    ready = [name for name, arch in (("x86-avx2", "x86_64"), ("arm64", "arm64")) if find(arch)]
    if len(ready) < 2:
        console.print("[yellow]QEMU emulation is not set up for every CPU class (`edgecv emulate setup`): "
                      f"per-target accuracy for this CPU{' and ' + ', '.join(ready) if ready else ''} only[/]")
    argv.append(f"--emulate={','.join(ready)}")
    console.rule("deploy: the candidates per runtime, timed beside the teacher")
    return ship_models.run(ship_models.parse_args(argv))


def targets(rows: list[dict], results: dict[str, dict]) -> list[dict]:
    """The issue's targets beside the measured values."""
    out = []
    teacher = {r["backend"]: r for r in rows if r.get("role") == "teacher" and r.get("precision") == "fp32"}
    best = None
    for r in rows:
        # the teacher's own INT8 builds are candidates too; only its FP32 build is the reference
        if r.get("backend") not in BACKENDS or r.get("status") != "ok" or \
                (r.get("role") == "teacher" and r.get("precision") == "fp32"):
            continue
        ref = teacher.get(r["backend"])
        if ref is None or r.get("top1") is None or ref.get("top1") is None:
            continue
        if r["top1"] >= ref["top1"] - 1.0 and (best is None or (r.get("speedup_vs_teacher") or 0) > (best.get("speedup_vs_teacher") or 0)):
            best = r
    out.append({"target": "best deployable artifact >= 5x the teacher on its runtime, within 1.0 pt top-1",
                "measured": f"{best['speedup_vs_teacher']:.2f}x ({best['role']} {best['backend']} {best['precision']}, "
                            f"{best['top1'] - teacher[best['backend']]['top1']:+.2f} pt)" if best else "no artifact within 1.0 pt",
                "met": bool(best and best["speedup_vs_teacher"] >= 5)})
    teacher_top1 = next((r["top1"] for r in rows if r.get("role") == "teacher" and r.get("backend") == "torch"), None)
    mobile = {name: _best_top1(res, "distill") for name, res in results.items() if name.startswith("kd-") and "mobilenet" in name}
    mobile = {k: v for k, v in mobile.items() if v is not None}
    if teacher_top1 is not None and mobile:
        s, v = max(mobile.items(), key=lambda kv: kv[1])
        out.append({"target": "a MobileNet student within 5 pt of the teacher", "measured": f"{s}: {v:.2f} % vs {teacher_top1:.2f} % "
                    f"({v - teacher_top1:+.2f} pt)", "met": v >= teacher_top1 - 5})
    for label, kd_part, ce_part in kd_pairs(results):
        kd, ce = _best_top1(results[kd_part], "distill"), _best_top1(results[ce_part], "train")
        if kd is not None and ce is not None:
            out.append({"target": f"KD >= +1.5 pt over labels alone at equal budget ({label})",
                        "measured": f"{kd:.2f} vs {ce:.2f} % ({kd - ce:+.2f} pt)", "met": kd - ce >= 1.5})
    for speed in cache_speedups(results):
        out.append({"target": "cached KD epoch >= 2x faster than a live one", "measured": speed["text"], "met": speed["ratio"] >= 2})
    judged = [r for r in rows if r.get("backend") in BACKENDS and r.get("agreement") is not None]
    plain = [r for r in judged if not r["name"].endswith(AGREE_SUFFIX)]
    repaired = {(r["part"], r["role"], r["name"].removesuffix(AGREE_SUFFIX), r["backend"]): r
                for r in judged if r["name"].endswith(AGREE_SUFFIX)}
    after_loop = [repaired.get((r["part"], r["role"], r["name"], r["backend"]), r) if r.get("precision") == "int8" else r
                  for r in plain]
    from edgecv.bench import INT8_MIN_AGREEMENT

    checks = [(" (plain PTQ)", plain, "int8", INT8_MIN_AGREEMENT)]
    if repaired:
        checks.append((" (ORT rows from the min-agreement loop where plain PTQ missed)", after_loop, "int8", INT8_MIN_AGREEMENT))
    checks.append(("", plain, "fp32", FP32_TARGET_AGREEMENT))
    for label, pool, precision, floor in checks:
        mine = [r for r in pool if r.get("precision") == precision]
        bad = [r for r in mine if r["agreement"] < floor]
        out.append({"target": f"every {precision.upper()} artifact >= {floor} % agreement with its source{label}",
                    "measured": f"{len(mine) - len(bad)} of {len(mine)}" + ("; below: " + ", ".join(f"{r['role']} {r['backend']} {r['agreement']:.2f} %" for r in bad) if bad else ""),
                    "met": not bad})
    return out


def cache_speedups(results: dict[str, dict]) -> list[dict]:
    """Median training seconds of epochs that ran the teacher vs epochs that took the cache, for each part
    that filled a cache: the first KD part (ResNet-56) and the ensemble part (ResNet-20 + ResNet-56)."""
    import csv

    out = []
    for name in (f"kd-{STUDENTS[0]}", "ensemble"):
        part = results.get(name)
        stage = next((s for s in part["stages"] if s["type"] == "distill"), None) if part else None
        if not stage or not stage.get("teacher_cache"):
            continue
        metrics = Path(part["folder"]) / "stages" / stage["stage"] / "metrics.csv"
        rows = list(csv.DictReader(metrics.open())) if metrics.is_file() else []
        views = stage["teacher_cache"]["views"]
        live = [float(r["train_seconds"]) for r in rows[:views] if r.get("train_seconds")]
        cached = [float(r["train_seconds"]) for r in rows[views:] if r.get("train_seconds")]
        if not live or not cached:
            continue
        ratio = statistics.median(live) / statistics.median(cached)
        out.append({"ratio": ratio, "text": f"{name}: {' / '.join(f'{x:.0f}' for x in live)} s live vs "
                                            f"{' / '.join(f'{x:.0f}' for x in cached)} s cached per epoch "
                                            f"(medians: {ratio:.2f}x)"})
    return out


def kd_pairs(results: dict[str, dict]) -> list[tuple[str, str, str]]:
    """(label, KD part, labels-only part) for every finished equal-budget pair: the default study's seeds on the
    subset, and --all's students."""
    pairs = [(f"{MOBILENET}, {COMPARE_IMAGES:,} images, seed {seed}", f"compare-kd-s{seed}", f"compare-ce-s{seed}")
             for seed in COMPARE_SEEDS]
    pairs += [(f"{s}, 4 epochs", f"kd-{s}", f"ce-{s}") for s in STUDENTS if s != MOBILENET]
    return [p for p in pairs if p[1] in results and p[2] in results]


def _best_top1(result: dict | None, stage_type: str) -> float | None:
    if not result:
        return None
    stage = next((s for s in result["stages"] if s["type"] == stage_type), None)
    return stage.get("best_top1") if stage else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs") / "cifar10-study", help="study folder (default runs/cifar10-study)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every training schedule (default 1: ~90 min on 2 cores)")
    p.add_argument("--only", nargs="+", metavar="PART", help="run only these parts (the ledger covers every finished part)")
    p.add_argument("--threads", type=int, default=2, help="threads for the interleaved timing (default 2)")
    p.add_argument("--max-train", type=int, help="train images (a stratified subset; quick checks)")
    p.add_argument("--max-val", type=int, help="val images (a stratified subset; quick checks)")
    p.add_argument("--macs-fraction", type=float, help=f"the TFLite candidate's MACs ratio (default {PRUNE_TFLITE_MACS}: "
                   "~5x the teacher in TFLite INT8 on the machine of RESULTS.md)")
    p.add_argument("--latency-fraction", type=float, default=0.5, help="--all's latency-pruning parts: this x the "
                   "teacher's p50 (default 0.5)")
    p.add_argument("--ship", action="store_true", help="copy the deploy pass's chosen files into benchmarks/models/")
    p.add_argument("--no-deploy", action="store_true", help="skip the deploy pass (builds, times and emulates the "
                   "candidates: ~8 min)")
    p.add_argument("--all", action="store_true", help="also the broad table: every student at 4 epochs, labels-only twins, "
                   "MACs- and ORT-latency-pruning, the ensemble (about 90 more minutes)")
    p.add_argument("--rounds", type=int, default=5, help="rounds of the interleaved timing (default 5)")
    args = p.parse_args()
    if args.scale <= 0 or not 0 < args.latency_fraction < 1 or not 0 < (args.macs_fraction or 0.5) < 1:
        p.error("--scale must be > 0, --latency-fraction and --macs-fraction in (0, 1)")
    if not (SHARED / "cifar10").is_dir() or not TEACHER_CKPT.is_file():
        sys.exit(f"the study needs ../shared/data (CIFAR-10 PNGs and teachers) at {SHARED}")
    args.out = args.out.resolve()

    from edgecv.bench import fingerprint, write_ledger
    from edgecv.bench.ledger import add_speedups, markdown_table, rich_table, summary_columns
    from edgecv.utils.console import get_console
    from edgecv.utils.io import write_json, write_text

    console = get_console()
    command = "python benchmarks/cifar10/study.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    results: dict[str, dict] = {}
    plan = parts(args)
    unknown = sorted(set(args.only or []) - {part["name"] for part in plan})
    if unknown:
        p.error(f"unknown part(s) {', '.join(unknown)}; parts: {', '.join(part['name'] for part in plan)}")
    for part in plan:
        name, folder = part["name"], args.out / "parts" / part["name"]
        if args.only and name not in args.only:
            if (folder / DONE).is_file():  # finished earlier: still in the ledger
                results[name] = {**json.loads((folder / "results.json").read_text()), **json.loads((folder / DONE).read_text())}
        else:
            results[name] = run_part(part, args, console)
        if name in results:
            results[name]["folder"] = str(folder)

    rows = study_rows(results)
    passes = []
    for label, run in (("INT8 min-agreement pass", agreement_pass), ("interleaved timing pass", interleaved_pass)):
        t0 = time.perf_counter()
        run(rows, args, console)
        passes.append({"part": label, "minutes": round((time.perf_counter() - t0) / 60, 2), "resumed": False})
    add_speedups(rows)
    deploy = None
    if not args.no_deploy:
        t0 = time.perf_counter()
        deploy = deploy_pass(results, args, console)
        passes.append({"part": "deploy pass", "minutes": round((time.perf_counter() - t0) / 60, 2), "resumed": False})
    env = fingerprint(args.threads)
    files = write_ledger(args.out / "ledger", rows, env, title="CIFAR-10 study: ResNet-56 teacher to every artifact")
    console.print(rich_table(rows, "CIFAR-10 study", summary_columns(rows)))
    checks = targets(rows, results)
    points = curves(results)
    teacher_top1 = next((r["top1"] for r in rows if r.get("role") == "teacher" and r.get("backend") == "torch"), None)
    plot = plot_curves(points, teacher_top1, args.out / "curves.png")
    long_parts = [part["name"] for part in plan if part.get("long")]
    timing = [{"part": n, "minutes": r.get("minutes"), "resumed": r.get("resumed")} for n, r in results.items()]
    timing += passes  # this invocation's: a rerun that skips every part still runs them
    deploy_text = ["## What to deploy", "",
                   "Candidates built as INT8 for TFLite and for ONNX Runtime at the `x86-avx2` target (7-bit weights: "
                   "accurate with or without VNNI), timed interleaved beside the teacher's FP32 build on the same runtime; "
                   "per runtime, the fastest within 1 pt of the teacher is chosen:", "", deploy["table"], "",
                   "The chosen files per CPU class (x86 with VNNI is this machine; the others are emulated under QEMU, for "
                   "accuracy only):", "", deploy["per_target"], ""] if deploy else []
    text = "\n".join([
        "# CIFAR-10 study", "", f"Command: `{command}` (scale {args.scale:g})", "",
        markdown_table(rows, summary_columns(rows)), "", "![top-1 vs p50 latency](ledger/pareto.png)", "",
        "## Targets", "", markdown_table(checks, [("target", "target", "{}"), ("measured", "measured", "{}"), ("met", "met", "{}")]), "",
        *deploy_text,
        "## Accuracy vs epochs (the long parts; val top-1 % after each epoch)", "", curve_table(points, long_parts), "",
        *([f"![accuracy vs epochs]({plot.name})", ""] if plot else []),
        "## Time per part", "", markdown_table(timing, [("part", "part", "{}"), ("minutes", "minutes", "{:.1f}"), ("resumed", "resumed", "{}")]),
        f"Total: {sum(t['minutes'] or 0 for t in timing):.1f} min.", "",
        f"**Machine**: {env.get('cpu')}, {env.get('cores_usable')} usable cores, load {env.get('load_avg_1m')}; "
        f"latency of ORT/TFLite rows interleaved in one pass ({args.rounds} rounds, batch 1, {args.threads} threads).", ""])
    write_text(args.out / "study.md", text)
    write_json(args.out / "study.json", {"command": command, "rows": rows, "targets": checks, "timing": timing, "environment": env,
                                         "curves": points, "deploy": deploy})
    print("\n" + text)
    console.print(f"ledger: {files['report']}; study: {args.out / 'study.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
