"""Is the harness honest? Time one ONNX model with edgecv's harness and with a bare
`InferenceSession.run` loop in the same process, alternating, and compare their medians.

    python benchmarks/harness_overhead.py [--model cifar_resnet56] [--rounds 12] [--threads 1]

The harness must be within 5 % of the bare loop (ratio of medians in [0.95, 1.05]). Both sides are
timed in the same interleaved rounds (`edgecv.bench.time_interleaved`, alternating which goes first)
so drifting load on a shared machine hits both sides alike; the bare side keeps its own hand-written
loop, so it is an independent measurement of what the harness reports.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
COLUMNS = [("batch", "batch", "{}"), ("harness_ms", "harness p50 ms", "{:.4f}"), ("bare_ms", "bare p50 ms", "{:.4f}"),
           ("ratio", "ratio (harness/bare)", "{:.4f}"), ("per_round", "per-round ratio min..max", "{}")]
TEACHERS = {"cifar_resnet56": "resnet56-4bfd9763.th", "cifar_resnet20": "resnet20-12fca82f.th"}


def bare_session(path: Path, threads: int):
    """What a user would write by hand: a plain session with the same thread settings."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def bare_loop(sess, runs: int, warmup: int):
    """A sampler for `time_interleaved`: the hand-written loop, seconds per call."""
    name = sess.get_inputs()[0].name

    def sample(x: np.ndarray) -> np.ndarray:
        for _ in range(warmup):
            sess.run(None, {name: x})
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            sess.run(None, {name: x})
            times.append(time.perf_counter() - t0)
        return np.asarray(times)

    return sample


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="cifar_resnet56")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--rounds", type=int, default=16)
    ap.add_argument("--runs", type=int, default=60, help="timed calls per round on each side")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import os

    os.environ.setdefault("EDGECV_ORT_PROVIDERS", "CPUExecutionProvider")  # both sides on the same provider
    import torch

    from edgecv.backends import BACKENDS
    from edgecv.backends.build import build_artifact
    from edgecv.bench import TimingConfig, fingerprint, markdown_table, time_interleaved
    from edgecv.models import create_model

    ckpt = DATA / "teachers" / TEACHERS.get(args.model, "-")
    model = create_model(args.model, num_classes=10, checkpoint=ckpt if ckpt.is_file() else None).eval()
    env = fingerprint(args.threads)
    print(f"machine: {env['cpu']}, {env['cores_usable']} usable cores, load {env['load_avg_1m']} (shared, noisy); "
          f"onnxruntime {env['libraries'].get('onnxruntime')}, threads {args.threads}")
    with tempfile.TemporaryDirectory(prefix="edgecv-overhead-") as tmp:
        res = build_artifact("onnx", model, torch.zeros(1, 3, args.size, args.size), Path(tmp))
        if res.status != "ok":
            print(f"export failed: {res.error}")
            return 1
        runner = BACKENDS.get("onnxruntime").load(res.artifact, args.threads)
        sess = bare_session(res.artifact.path, args.threads)
        cfg = TimingConfig(warmup=10, min_runs=args.runs, min_time_s=0.0)
        print(f"model {args.model} ({res.artifact.path.stat().st_size / 1e6:.2f} MB ONNX), {args.rounds} alternating rounds x {args.runs} calls each side\n")
        rows = []
        for b in [int(v) for v in args.batches.split(",")]:
            x = np.random.default_rng(0).standard_normal((b, 3, args.size, args.size)).astype(np.float32)
            stats = time_interleaved({"harness": runner}, x, args.rounds, cfg, samplers={"bare": bare_loop(sess, args.runs, 10)})
            h, r = (np.asarray(stats[k]["round_p50_ms"]) for k in ("harness", "bare"))
            ratio = float(np.median(h) / np.median(r))
            per = h / r
            rows.append({"batch": b, "harness_ms": float(np.median(h)), "bare_ms": float(np.median(r)), "ratio": ratio,
                         "per_round": f"{per.min():.3f}..{per.max():.3f}"})
    print(markdown_table(rows, COLUMNS))
    worst = max(abs(r["ratio"] - 1) for r in rows)
    verdict = "PASS" if worst <= 0.05 else "FAIL"
    print(f"\n{verdict}: the harness is within {worst * 100:.2f} % of the bare loop (limit 5 %)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
