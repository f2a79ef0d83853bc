"""`benchmark`: latency, accuracy and parity of any artifact, including files edgecv did not make, through
the same Predictor the demo and the service use (the artifact's own preprocessing).

    res = benchmark("model.onnx", data="val/", batches=(1, 8), threads=2)
    res.rows            # one ledger row per batch size: top1, agreement, latency_ms_p50, status, ...
    res.environment     # the machine's fingerprint

A PyTorch model file (.pt) can run another way (`precision`, `runtime`: device, channels_last,
cuda_graphs, compile, compile_mode, tf32), compared with itself in eager FP32 on the CPU.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..bench.harness import Thresholds
from ..utils.options import with_fields
from ..utils.timing import TimingConfig


@dataclass(frozen=True)
class BenchmarkOptions:
    batches: Sequence[int] = (1,)
    threads: int | None = None  # intra-op threads (default: the library's choice)
    data: str | Path | None = None  # labelled images DIR/<class>/*: top-1 and parity on real images
    class_map: str | Path | Mapping[str, int] | None = None  # folder -> output index (a file or a mapping)
    reference: str | Path | None = None  # an edgecv model file to check parity against; default: the recorded source
    crop_pct: float = 0.875
    timing: TimingConfig = TimingConfig()
    thresholds: Thresholds = Thresholds()
    name: str | None = None  # the rows' name; default: the file's stem
    # how to read a file that does not describe itself
    backend: str | None = None
    layout: str | None = None
    mean: Sequence[float] | None = None
    std: Sequence[float] | None = None
    size: int | None = None
    # a PyTorch model file run another way
    precision: str | None = None
    runtime: Mapping[str, Any] = field(default_factory=dict)
    # power on a Jetson: tegrastats' command and seconds per batch size
    tegrastats: str | None = None
    power_time: float = 5.0
    # accuracy on other CPU classes under QEMU (edgecv.app.emulate): their names, and a subset of the images
    emulate: Sequence[str] = ()
    emulate_images: int | None = None


@dataclass
class BenchmarkResult:
    rows: list[dict]
    environment: dict


def benchmark(artifact: str | Path, options: BenchmarkOptions | None = None, **fields) -> BenchmarkResult:
    """Benchmark `artifact` at each batch size; failures to load or run it raise (one line)."""
    from ..bench import benchmark_artifact, fingerprint, read_class_map
    from ..utils.errors import first_line, is_out_of_memory
    from .artifacts import reference_model
    from .predictor import Predictor

    o = with_fields(BenchmarkOptions, options, fields, "benchmark")
    art = _configure(open_artifact_for(artifact, o), o)
    try:
        predictor = Predictor(art, threads=o.threads, crop_pct=o.crop_pct)
        _check_batch_memory(list(o.batches), art)  # with the runtime loaded: its libraries count against ulimit -v
        class_map = read_class_map(o.class_map) if isinstance(o.class_map, (str, Path)) else o.class_map
        data = predictor.evalset(o.data, class_map) if o.data else None
        reference, name = reference_model(art, o.reference), o.name or Path(artifact).stem
        rows = benchmark_artifact(art, data, reference, batches=list(o.batches), threads=o.threads, timing=o.timing,
                                  thresholds=o.thresholds, name=name, runner=predictor.runner, strict=True)
        if o.emulate:
            from ..bench.emulate import EmulatedEval
            from .emulate import emulated_rows

            how = EmulatedEval(data=data, reference_model=reference, host_runner=predictor.runner,
                               thresholds=o.thresholds, threads=o.threads, name=name)
            rows += emulated_rows(art, list(o.emulate), how, images=o.emulate_images)
    except (ValueError, KeyError, FileNotFoundError, ImportError, *_emulation_errors(o.emulate)):
        raise
    except Exception as e:  # a runtime's own exception types (e.g. onnxruntime's): one line
        if is_out_of_memory(e):
            raise RuntimeError(f"out of memory running {artifact} at --batch {max(o.batches)}; use a smaller --batch "
                               f"({first_line(e, 120)})") from None
        raise RuntimeError(f"running {artifact} failed: {first_line(e)}") from None
    if o.tegrastats:  # on a Jetson itself
        from .power import add_power, measure_batches

        rows = add_power(rows, measure_batches(predictor, data, o.batches, o.tegrastats, o.power_time,
                                               warmup=o.timing.warmup))
    return BenchmarkResult(rows, fingerprint(o.threads))


def _check_batch_memory(batches: list[int], art) -> None:
    """Refuse a batch that cannot fit in memory before it is allocated (the OOM killer would end the
    process with a bare 'Killed'): the model's bytes per image (edgecv.bench.memory) against what this
    process may still allocate (edgecv.utils.memory: the machine, a cgroup cap, ulimit -v)."""
    from ..bench.memory import per_image_bytes
    from ..utils.memory import check_batch_memory

    per_image, how = per_image_bytes(art)
    if per_image:
        check_batch_memory(batches, list(art.metadata.input_shape)[1:4], "--batch", per_image=per_image, how=how)


def _emulation_errors(emulate) -> tuple[type, ...]:
    """The set-up and emulated-run failures, whose one-line messages reach the user as they are."""
    if not emulate:
        return ()
    from ..bench.emulate import EmulationError, EmulationSetupError

    return EmulationError, EmulationSetupError


def open_artifact_for(artifact, o: BenchmarkOptions):
    """The artifact opened with the options' reading overrides."""
    from ..backends import open_artifact

    return open_artifact(artifact, o.backend, o.layout, o.mean, o.std, o.size)


def _configure(art, o: BenchmarkOptions):
    """A torch model file with other run-time settings (checked as a build checks them)."""
    from ..backends import REFERENCE_BACKEND

    runtime = {k: v for k, v in o.runtime.items() if v is not None}
    if o.precision is None and not runtime:
        return art
    if art.backend != REFERENCE_BACKEND:
        given = ", ".join("--" + k.replace("_", "-") for k in ["precision"] * (o.precision is not None) + list(runtime))
        raise ValueError(f"{given}: these run a PyTorch model file (.pt) another way; {art.path} is a {art.backend} "
                         "artifact, whose precision and device were fixed when it was built (edgecv export --precision ...)")
    from ..backends.torch import TORCH

    return TORCH.configure(art, o.precision, runtime)
