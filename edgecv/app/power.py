"""Power and energy per image of an artifact on a Jetson (`edgecv bench ... --tegrastats`).

After the timed rows, each batch size runs again for `--power-time` seconds while tegrastats samples
the power rails (edgecv.bench.power). `edgecv bench --remote` runs this module on the target:

    python -m edgecv.app.power ARTIFACT --batch 1,8 [--data DIR] [--threads N] --json power.json

It takes the bench flags it needs (preprocessing overrides, --data, --warmup) and ignores the others.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

POWER_KEYS = ("power_rail", "power_mw", "power_mw_idle", "energy_mj_per_image", "energy_mj_per_image_dynamic",
              "power_samples", "power_seconds", "power_images", "power_rails_mw")


# bench flags that change nothing about what runs (only how rows are judged or timed)
IGNORED_FLAGS = {"--min-runs", "--min-time", "--min-agreement", "--max-top1-drop", "--reference"}


def measure_batches(predictor, data, batches: Sequence[int], tegrastats: str = "tegrastats", seconds: float = 5.0,
                    idle_s: float = 2.0, warmup: int = 10, interval_ms: int = 100) -> dict[int, dict]:
    """{batch: power fields} for the Predictor's runner on the images the harness times (`data.first(b)`,
    else random inputs). A fixed-batch artifact is measured only at its batch."""
    import numpy as np

    from ..bench.harness import input_chw
    from ..bench.power import Tegrastats, measure_power

    meta = predictor.artifact.metadata
    chw = input_chw(meta.input_shape, predictor.artifact.path)
    out: dict[int, dict] = {}
    with Tegrastats(tegrastats, interval_ms) as sampler:
        for b in batches:
            if predictor.fixed_batch and b != predictor.fixed_batch:
                continue
            x = data.first(b) if data is not None else np.random.default_rng(0).standard_normal((b, *chw)).astype(np.float32)
            out[int(b)] = measure_power(predictor.runner, x, sampler, seconds, idle_s, warmup)
    return out


def add_power(rows: list[dict], power: dict) -> list[dict]:
    """The rows with the power fields of their batch (JSON keys may be strings)."""
    by_batch = {int(k): v for k, v in power.items()}
    return [{**r, **by_batch.get(int(r.get("batch") or 0), {})} for r in rows]


def power_lines(rows: Sequence[dict]) -> list[str]:
    """One line per row that has power: average power, idle power and energy per image."""
    lines = []
    for r in rows:
        if r.get("power_mw") is None:
            continue
        idle = f", idle {r['power_mw_idle']:.0f} mW" if r.get("power_mw_idle") is not None else ""
        dyn = (f" ({r['energy_mj_per_image_dynamic']:.3f} mJ above idle)"
               if r.get("energy_mj_per_image_dynamic") is not None else "")
        lines.append(f"power {r.get('name')} batch {r.get('batch')}: {r['power_mw']:.0f} mW ({r['power_rail']}){idle}; "
                     f"{r['energy_mj_per_image']:.3f} mJ per image{dyn}; {r['power_samples']} tegrastats samples "
                     f"in {r['power_seconds']:.1f} s")
    return lines


def _floats(text: str | None) -> list[float] | None:
    if not text:
        return None
    vals = [float(v) for v in text.split(",")]
    return vals * 3 if len(vals) == 1 else vals


def main(argv: Sequence[str] | None = None) -> int:
    from ..bench import read_class_map
    from ..utils.errors import first_line
    from ..utils.io import write_json
    from .predictor import Predictor

    p = argparse.ArgumentParser(prog="python -m edgecv.app.power", description=__doc__.splitlines()[0])
    p.add_argument("artifact")
    p.add_argument("--json", required=True, metavar="FILE")
    p.add_argument("--batch", default="1")
    p.add_argument("--data")
    p.add_argument("--class-map")
    p.add_argument("--threads", type=int)
    p.add_argument("--backend")
    p.add_argument("--layout")
    p.add_argument("--mean")
    p.add_argument("--std")
    p.add_argument("--size", type=int)
    p.add_argument("--crop-pct", type=float, default=0.875)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--tegrastats", default="tegrastats", metavar="CMD")
    p.add_argument("--power-time", type=float, default=5.0)
    p.add_argument("--idle-time", type=float, default=2.0)
    p.add_argument("--interval-ms", type=int, default=100)
    args, rest = p.parse_known_args(argv)  # the bench flags power does not use (--min-runs, ...) are ignored
    others = [w.split("=")[0] for w in rest if w.startswith("--") and w.split("=")[0] not in IGNORED_FLAGS]
    if others:  # e.g. torch's --device/--precision: measuring another configuration than asked is refused
        print(f"error: power measurement does not take {', '.join(others)}", flush=True)
        return 2
    try:
        predictor = Predictor(args.artifact, threads=args.threads, crop_pct=args.crop_pct, backend=args.backend,
                              layout=args.layout, mean=_floats(args.mean), std=_floats(args.std), size=args.size)
        data = (predictor.evalset(args.data, read_class_map(args.class_map) if args.class_map else None)
                if args.data else None)
        batches = [int(b) for b in args.batch.split(",") if b.strip()]
        power = measure_batches(predictor, data, batches, args.tegrastats, args.power_time, args.idle_time,
                                args.warmup, args.interval_ms)
    except Exception as e:  # one line for the caller (the remote runner shows it), never a traceback
        print(f"error: measuring power failed: {first_line(e)}", flush=True)
        return 2
    write_json(args.json, {str(b): v for b, v in power.items()})
    print(f"wrote {Path(args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
