"""Benchmark any artifact the same way: load it through its backend, check it, evaluate it, time it.

    rows = benchmark_artifact(artifact, data=evalset, batches=[1, 8], threads=2, reference_model=model)

One row per batch size, each with a status: `ok`, `inaccurate` (parity or accuracy below the
thresholds), `export_failed` (could not be built or loaded), `skipped` (backend or batch size not
available here, with the reason). New backends plug in through the registry; nothing here changes.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..backends import BACKENDS, Artifact
from ..targets import Target, host_target, recorded_target
from ..utils.errors import first_line
from ..utils.options import with_fields
from . import INT8_MIN_AGREEMENT
from .accuracy import evaluate_runner
from ..utils.timing import OtherLoad, TimingConfig, latency_stats, measure_runner, split_stats


# Every row has these keys (None where a value does not apply, e.g. top1 without --data).
LEDGER_FIELDS = ("name", "backend", "precision", "status", "reason", "top1", "top5", "agreement", "max_abs_diff",
                 "latency_ms_p50", "latency_ms_p90", "latency_ms_p99", "latency_ms_mean", "latency_ms_std",
                 "throughput_ips", "batch", "threads", "size_mb", "params", "macs",
                 # the artifact's build target (edgecv.targets) and the CPU the row ran on (arch + kernel features)
                 "target", "cpu_features",
                 # GPU runners that time themselves (CUDA events): compute and host<->device copies apart
                 "latency_ms_compute_p50", "h2d_ms_p50", "d2h_ms_p50")


@dataclass(frozen=True)
class Thresholds:
    min_agreement: float = 99.0  # percent of images where the artifact's top-1 equals PyTorch's
    max_top1_drop: float = 1.0  # percentage points of top-1 below the PyTorch source
    # integer (INT8) rows: their agreement with the FP32 source is judged against this instead of min_agreement
    min_int8_agreement: float = INT8_MIN_AGREEMENT


@dataclass(frozen=True)
class BenchOptions:
    """How `benchmark_artifact` measures an artifact (the bench flags and the benchmark stage's keys)."""
    batches: Sequence[int] = (1,)
    threads: int | None = None
    timing: TimingConfig | None = TimingConfig()  # None: accuracy and parity only, no latency (an emulated target)
    thresholds: Thresholds = Thresholds()
    name: str | None = None  # the rows' name; default: the source model's, else the file's stem
    runner: Any = None  # a runner to time instead of loading the file (e.g. the in-memory reference itself)
    strict: bool = False  # a load or run failure raises instead of becoming an `export_failed` row
    extra: Mapping[str, Any] | None = None  # keys added to every row (e.g. the run role)
    parity: bool = True  # compare with the reference model (False: params and MACs only)
    host: Target | None = None  # the CPU it runs on (default: this machine's): an artifact whose kernels compute
    # wrong results there (its backend's `run_problem`) is never `ok`


def benchmark_artifact(artifact: Artifact | str | Path, data=None, reference_model=None,
                       options: BenchOptions | None = None, **fields) -> list[dict]:
    """Rows for one artifact, one per batch size. `data` is an EvalSet (accuracy on all of it);
    `reference_model` the PyTorch source (params, MACs and, unless `parity=False`, parity). `options`
    (or its fields as keywords: batches, threads, timing, ...) say how it is measured."""
    o = with_fields(BenchOptions, options, fields, "benchmark_artifact")
    batches, threads, runner, timing, host = o.batches, o.threads, o.runner, o.timing, o.host
    if not isinstance(artifact, Artifact):
        artifact = Artifact.from_path(artifact)  # loading it below checks it (a failure is its rows' status)
    meta = artifact.metadata
    host = host or host_target()
    built_for = recorded_target(meta.target)
    base = {
        **dict.fromkeys(LEDGER_FIELDS),
        "name": o.name or meta.source_model or artifact.path.stem, "backend": artifact.backend,
        "precision": meta.precision, "source_model": meta.source_model, "path": str(artifact.path),
        "threads": threads, "size_mb": size_mb(artifact.path), "target": built_for.name if built_for else None,
        "cpu_features": host.compact(), **(o.extra or {}),
    }
    base.update(model_profile(artifact, reference_model))
    rows = lambda status, reason=None, **kw: [  # noqa: E731  one row per batch size
        {**base, "batch": int(b), "status": status, "reason": reason, **kw} for b in batches]

    backend = BACKENDS.get(artifact.backend)
    ok, why = backend.available()
    if not ok:
        return rows("skipped", why)
    shape = input_chw(meta.input_shape, artifact.path)
    fixed = meta.input_shape[0] if isinstance(meta.input_shape[0], int) and meta.input_shape[0] > 0 else None
    try:
        runner = runner or backend.load(artifact, threads)
        probe = np.asarray(runner(_inputs(data, fixed or 1, shape)))
        if probe.ndim != 2 or probe.shape[0] != (fixed or 1):
            raise ValueError(f"{artifact.path}: expected logits of shape ({fixed or 1}, classes), got {probe.shape}")
    except Exception as e:
        if o.strict:
            raise
        return rows("export_failed", first_line(e))
    if data is not None:
        data.check_outputs(probe.shape[1], meta.class_names, what=f"artifact {artifact.path.name}")
    info = runner.info
    base["device"] = info.get("provider") or info.get("device")
    try:
        quality = evaluate_runner(runner, data, reference_model if o.parity else None, fixed, shape)
    except Exception as e:
        if o.strict:
            raise
        return rows("export_failed", f"running it failed: {first_line(e)}")
    status, reason = judge(quality, o.thresholds, _integer(backend, meta.precision), meta.precision)
    problem = backend.run_problem(artifact, host)
    if problem:  # measured accuracy or not, this CPU's kernels are known to compute something else
        status, reason = "inaccurate", "; ".join(filter(None, [problem, reason]))

    out = []
    for b in batches:
        row = {**base, "batch": int(b), "status": status, "reason": reason, **quality}
        if fixed and b != fixed:
            row.update(status="skipped", reason=f"the artifact has a fixed batch of {fixed}")
        elif timing is not None:
            x = _inputs(data, int(b), shape)
            load = OtherLoad()  # what other processes used of the machine during this row's timed runs
            timed = measure_runner(runner, x, o.timing, load)
            row.update(latency_stats(timed.wall_s, int(b), load), **split_stats(timed))
        out.append(row)
    return out


def judge(quality: dict, t: Thresholds, integer: bool = False, precision: str | None = None) -> tuple[str, str | None]:
    """`inaccurate` when parity or top-1 falls below the thresholds, else `ok`.

    Integer (INT8) artifacts must agree with their FP32 source on `t.min_int8_agreement` % of the
    images; the others on `t.min_agreement` %. Integer artifacts are calibrated for real images, so
    their parity on random noise is reported but not judged; give them --data to be judged."""
    problems = []
    judged = quality.get("parity_on") == "val" or not integer
    agreement = quality.get("agreement")
    if judged and agreement is not None:
        if integer and agreement < t.min_int8_agreement:
            problems.append(f"{(precision or 'int8').upper()} top-1 agreement with its FP32 source {agreement:.2f}% "
                            f"< {t.min_int8_agreement}% (the INT8 minimum)")
        elif not integer and agreement < t.min_agreement:
            problems.append(f"top-1 agreement with PyTorch {agreement:.2f}% < {t.min_agreement}%")
    ref, top1 = quality.get("reference_top1"), quality.get("top1")
    if ref is not None and top1 is not None and ref - top1 > t.max_top1_drop:
        problems.append(f"top-1 {top1:.2f}% is {ref - top1:.2f} points below PyTorch's {ref:.2f}% (max {t.max_top1_drop})")
    return ("inaccurate", "; ".join(problems)) if problems else ("ok", None)


def input_chw(input_shape, path) -> tuple[int, int, int]:
    c, h, w = list(input_shape)[1:4] if len(input_shape) == 4 else (None, None, None)
    if not all(isinstance(d, int) and d > 0 for d in (c, h, w)):
        raise ValueError(f"{path}: input shape {list(input_shape)} has no fixed channels/size; pass --size (and --layout)")
    return int(c), int(h), int(w)


def size_mb(path: Path) -> float:
    path = Path(path)
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
    return round(total / 1e6, 3)


# MACs per (model, input shape, parameter count): a run benchmarks each model on several backends, and tracing
# the flop counter costs about a second on a CPU; a model pruned in place has another parameter count.
_MACS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def model_profile(artifact: Artifact, reference_model=None) -> dict:
    """Params and MACs of the source model; for a file with no source, what its backend reads off it."""
    from ..utils.profile import count_macs, count_params

    if reference_model is not None:
        params = count_params(reference_model)
        try:
            shape = (1, *input_chw(artifact.metadata.input_shape, artifact.path))
            known = _MACS.setdefault(reference_model, {})
            if (shape, params) not in known:
                known[(shape, params)] = count_macs(reference_model, shape)
            return {"params": params, "macs": known[(shape, params)]}
        except Exception:  # a model the flop counter cannot trace still gets its params
            return {"params": params, "macs": None}
    extra = artifact.metadata.extra
    if extra.get("params") is None and artifact.path.is_file():
        try:
            extra = BACKENDS.get(artifact.backend).inspect(artifact.path).extra
        except Exception:  # unreadable here: the row reports the failure when it loads the file
            return {"params": None, "macs": None}
    return {"params": extra.get("params"), "macs": extra.get("macs")}


def _integer(backend, precision: str) -> bool:
    p = backend.precisions.get(precision)
    return bool(p and p.integer)


def _inputs(data, n: int, chw) -> np.ndarray:
    if data is not None:
        return data.first(n)
    return np.random.default_rng(0).standard_normal((n, *chw)).astype(np.float32)
