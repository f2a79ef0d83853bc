"""The benchmark harness: timing, accuracy and parity of any artifact, and the results ledger.

    from edgecv.bench import benchmark_artifact, EvalSet, write_ledger
    rows = benchmark_artifact("model.onnx", data=EvalSet.from_folder(...), batches=[1, 8], threads=2)
    write_ledger(out_dir, rows, fingerprint(threads=2))
"""
from __future__ import annotations

from ..utils.lazy import lazy_getattr

INT8_MIN_AGREEMENT = 98.5  # % top-1 agreement with its FP32 source an integer (INT8) artifact must reach, else `inaccurate`

_LAZY = {
    "benchmark_artifact": ("harness", "benchmark_artifact"),
    "BenchOptions": ("harness", "BenchOptions"),
    "Thresholds": ("harness", "Thresholds"),
    "TimingConfig": ("edgecv.utils.timing", "TimingConfig"),
    "time_runner": ("edgecv.utils.timing", "time_runner"),
    "latency_stats": ("edgecv.utils.timing", "latency_stats"),
    "time_interleaved": ("interleave", "time_interleaved"),
    "EvalSet": ("evalset", "EvalSet"),
    "read_class_map": ("classmap", "read_class_map"),
    "read_class_names": ("classmap", "read_class_names"),
    "fingerprint": ("environment", "fingerprint"),
    "write_ledger": ("ledger", "write_ledger"),
    "markdown_table": ("ledger", "markdown_table"),
    "pareto_plot": ("ledger", "pareto_plot"),
    "rich_table": ("ledger", "rich_table"),
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = ["INT8_MIN_AGREEMENT", *_LAZY]
