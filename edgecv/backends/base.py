"""The backend protocol: build an artifact from a model, load it as a runner.

A backend is one small object registered by name:

    name, suffix, extra, format         # "onnxruntime", ".onnx", "onnx" (the pip extra), "onnx"
    precisions: {name: Precision}       # what it can run, and whether building it needs calibration data
    available() -> (bool, reason)       # never imports a missing library at module import
    build(model, sample, precision, calibration, out_dir, options) -> Artifact
    load(artifact, threads) -> Runner   # Runner: NCHW float32 numpy batch -> logits as host numpy
    inspect(path) -> ArtifactMetadata   # what a file expects, read from the file itself

Higher layers add what they own onto a backend instead of the backend importing them: the quantize
layer attaches the builders of ONNX Runtime's int8/fp16 (`attach_builder`). Everything outside
`backends/` asks a backend through this protocol; nothing probes it with getattr or hasattr.
"""
from __future__ import annotations

import importlib.util
import json
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, runtime_checkable

import numpy as np

from ..registry import Registry, did_you_mean
from ..targets import Target, resolve_target
from ..utils.io import write_json

METADATA_SUFFIX = ".edgecv.json"  # sidecar written next to every artifact
COMMON_OPTIONS = ("preprocess", "source", "target")  # every backend's build takes these (see BaseBackend.build)
# The reference every artifact is compared with: eager PyTorch at full precision.
REFERENCE_BACKEND = "torch"
REFERENCE_PRECISION = "fp32"


@dataclass
class ArtifactMetadata:
    source_model: str | None = None
    input_shape: list[int | str] = field(default_factory=lambda: ["batch", 3, 224, 224])
    mean: list[float] = field(default_factory=lambda: [0.485, 0.456, 0.406])
    std: list[float] = field(default_factory=lambda: [0.229, 0.224, 0.225])
    class_names: list[str] | None = None
    precision: str = "fp32"  # what was actually built, not what was asked for
    layout: str = "NCHW"  # what the file's input expects; runners take NCHW float32 regardless
    input_dtype: str = "float32"
    target: dict[str, Any] | None = None  # the CPU it was built for (edgecv.targets.Target.to_dict()); None: unknown
    tool_versions: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def copy(self, **changes: Any) -> "ArtifactMetadata":
        data = {**asdict(self), **changes}
        return ArtifactMetadata(**data)

    def plain(self) -> dict[str, Any]:
        """Everything but `extra`: what is embedded inside a model file."""
        return {k: v for k, v in asdict(self).items() if k != "extra"}

    @property
    def image_size(self) -> int | None:
        size = self.input_shape[-1] if self.input_shape else None
        return size if isinstance(size, int) else None


@dataclass
class Artifact:
    path: Path
    backend: str
    metadata: ArtifactMetadata

    @property
    def precision(self) -> str:
        return self.metadata.precision

    def sidecar(self) -> Path:
        return Path(str(self.path) + METADATA_SUFFIX)

    def save_metadata(self) -> Path:
        return write_json(self.sidecar(), {"backend": self.backend, **asdict(self.metadata)})

    @classmethod
    def from_path(cls, path: str | Path, backend: str | None = None) -> "Artifact":
        """Read an artifact and its sidecar metadata, if any (files edgecv did not make have none)."""
        path = Path(path)
        if path.is_dir():
            raise ValueError(f"{path} is a folder; give a model file ({known_suffixes()})")
        if not path.exists():
            raise FileNotFoundError(f"artifact not found: {path}")
        side = Path(str(path) + METADATA_SUFFIX)
        meta: dict[str, Any] = {}
        if side.is_file():
            try:
                meta = json.loads(side.read_text())
            except json.JSONDecodeError as e:
                raise ValueError(f"metadata sidecar {side} is not valid JSON ({e}); delete it or re-export") from None
        backend = backend or meta.pop("backend", None) or backend_for_suffix(path)
        meta.pop("backend", None)
        known = set(ArtifactMetadata.__dataclass_fields__)
        return cls(path, backend, ArtifactMetadata(**{k: v for k, v in meta.items() if k in known}))


@dataclass(frozen=True)
class Precision:
    """A precision a backend runs. `integer`: integer weights or compute (calibrated or quantized for
    real images), whose parity with PyTorch on random noise means nothing: such artifacts are judged on
    real images only."""

    name: str
    needs_calibration: bool = False
    integer: bool = False
    summary: str = ""


@runtime_checkable
class Runner(Protocol):
    """Maps a normalised NCHW float32 batch to logits, as host numpy (GPU runners synchronise first).

    Optional, for runners that time themselves on a device: `info["timing"] == "cuda_events"`
    (edgecv.utils.timing.CUDA_EVENTS) promises a method `time_call(batch) -> CallTiming`: one call
    like `__call__`, whose compute and host<->device copies are measured with CUDA events after a
    synchronise (seconds; see edgecv/utils/cuda_timing.py). The harness then reports compute and
    transfers apart, as trtexec does. Runners without it are timed on the host clock alone;
    FunctionRunner's default `time_call` gives that wall time as compute, with no transfers.
    """

    info: dict[str, Any]  # provider/device, threads, timing ("cuda_events" when time_call is device-timed), ...

    def __call__(self, batch: np.ndarray) -> np.ndarray: ...


class Backend(Protocol):
    name: str
    suffix: str  # file suffix of its artifacts, e.g. ".onnx"
    extra: str  # pip extra that installs it, e.g. "onnx"; "" for the core install
    format: str  # the format name users may give instead of the backend name, e.g. "onnx"
    options: tuple[str, ...]  # backend-specific build options, e.g. ("layout",)

    @property
    def precisions(self) -> Mapping[str, Precision]: ...

    def precision(self, name: str) -> Precision: ...

    def buildable(self) -> dict[str, str]: ...

    def attach_builder(self, precision: str, builder: "Builder", derived: bool = False,
                       options: tuple[str, ...] = ()) -> None: ...

    def available(self) -> tuple[bool, str]: ...

    def build(self, model, sample, precision: str, calibration, out_dir: Path,
              options: Mapping[str, Any] | None = None) -> Artifact: ...

    def load(self, artifact: Artifact, threads: int | None = None) -> Runner: ...

    def inspect(self, path: str | Path) -> ArtifactMetadata: ...

    def run_problem(self, artifact: Artifact, host: Target) -> str | None: ...


Builder = Callable[..., Artifact]


class FunctionRunner:
    """A Runner around a plain function, with its `info`."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], info: dict[str, Any]):
        self._fn, self.info = fn, info

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self._fn(batch)

    def time_call(self, batch: np.ndarray):
        """One call timed on the host clock: CallTiming(compute_s=its wall time), no transfers apart."""
        import time

        from ..utils.timing import CallTiming

        t0 = time.perf_counter()
        self._fn(batch)
        return CallTiming(compute_s=time.perf_counter() - t0)


class BaseBackend:
    """Shared mechanics: the precision table, availability by module, option checks, derived builds.

    A builder is either direct, `fn(model, sample, calibration, out_dir, options) -> Artifact`, or
    derived, `fn(source_artifact, calibration, out_dir, options) -> Artifact`, which converts this
    backend's FP32 artifact (passed as option `source`, else built first in a scratch folder).
    """

    name = suffix = extra = format = ""
    modules: tuple[str, ...] = ()  # import names the backend needs
    options: tuple[str, ...] = ()
    builder_hint = ""  # what to install or import when a precision has no builder yet

    def __init__(self, precisions: list[Precision]):
        self._precisions = {p.name: p for p in precisions}
        self._builders: dict[str, tuple[Builder, bool]] = {}
        self._builder_options: dict[str, tuple[str, ...]] = {}

    @property
    def precisions(self) -> Mapping[str, Precision]:
        return dict(self._precisions)

    def precision(self, name: str) -> Precision:
        if name not in self._precisions:
            raise ValueError(f"backend {self.name} runs {', '.join(self._precisions)}, not '{name}'"
                             f"{did_you_mean(name, self._precisions)}")
        return self._precisions[name]

    def attach_builder(self, precision: str, builder: Builder, derived: bool = False,
                       options: tuple[str, ...] = ()) -> None:
        """Make `precision` buildable; higher layers call this (e.g. quantize for int8). `options` are
        build options that builder takes beyond the backend's own (e.g. `quantize`: a QuantizeSpec)."""
        self.precision(precision)
        self._builders[precision] = (builder, derived)
        self._builder_options[precision] = tuple(options)

    def buildable(self) -> dict[str, str]:
        """{precision: '' if it can be built, else why not}."""
        return {p: "" if p in self._builders else f"no builder attached{self.builder_hint}" for p in self._precisions}

    def available(self) -> tuple[bool, str]:
        missing = [m for m in self.modules if importlib.util.find_spec(m) is None]
        if missing:
            return False, f"{', '.join(missing)} not installed: pip install 'edgecv[{self.extra}]'"
        return True, ""

    def run_problem(self, artifact: Artifact, host: Target) -> str | None:
        """Why `artifact` would compute wrong results on the `host` CPU (e.g. kernels that saturate with
        its weights), naming both targets; None when nothing is known against it."""
        return None

    def build(self, model, sample, precision: str, calibration, out_dir: Path,
              options: Mapping[str, Any] | None = None) -> Artifact:
        options = {k: v for k, v in (options or {}).items() if v is not None}
        prec = self.precision(precision)
        own = (*self.options, *self._builder_options.get(precision, ()))
        unknown = set(options) - set(own) - set(COMMON_OPTIONS)
        if unknown:
            allowed = ", ".join(own) or "none"
            raise ValueError(f"backend {self.name} does not take option(s) {', '.join(sorted(unknown))} for "
                             f"{precision} (its options: {allowed})")
        if precision not in self._builders:
            raise ValueError(f"backend {self.name} cannot build {precision} here: no builder attached{self.builder_hint}")
        if prec.needs_calibration and calibration is None:
            raise ValueError(f"{self.name} {precision} needs calibration images (--calib-data DIR, or a recipe's data)")
        builder, derived = self._builders[precision]
        options["target"] = resolve_target(options.get("target"))  # a name, or the host by default
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if not derived:
            return _with_target(builder(model, sample, calibration, out_dir, options), options["target"])
        source = options.get("source")
        if source is not None:
            return _with_target(builder(source, calibration, out_dir, options), options["target"])
        with tempfile.TemporaryDirectory(prefix=f"edgecv-{self.name}-") as tmp:
            plain = {k: v for k, v in options.items() if k in (*self.options, "preprocess", "target")}
            fp32 = self.build(model, sample, REFERENCE_PRECISION, None, Path(tmp), plain)
            art = builder(fp32, calibration, out_dir, options)
        art.metadata.extra.pop("source_artifact", None)  # it was a scratch file, now gone
        return _with_target(art, options["target"])


def _with_target(art: Artifact, target: Target) -> Artifact:
    """The artifact with the target it was built for in its metadata (its sidecar rewritten)."""
    art.metadata.target = target.to_dict()
    art.save_metadata()
    return art


# One line per backend: its package edgecv/backends/<name>/, whose __init__ registers it. Loaded on
# the registry's first look-up.
BACKEND_PACKAGES = ("torch", "onnxruntime", "tflite", "tensorrt")
BACKENDS: Registry[Backend] = Registry("backend", plugins=[f"edgecv.backends.{p}" for p in BACKEND_PACKAGES])


def known_suffixes() -> str:
    return ", ".join(f"{BACKENDS.get(n).suffix} ({n})" for n in BACKENDS.names())


def backend_for_suffix(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    for name in BACKENDS.names():
        if BACKENDS.get(name).suffix == suffix:
            return name
    what = f"'{suffix}' files" if suffix else "files without a suffix"
    raise ValueError(f"{path}: no backend reads {what}; edgecv reads {known_suffixes()}")


def resolve_backend(name: str) -> str:
    """A backend name or a format it writes ('onnx' -> 'onnxruntime')."""
    if name in BACKENDS:
        return name
    formats = {BACKENDS.get(b).format: b for b in BACKENDS.names() if BACKENDS.get(b).format}
    if name in formats:
        return formats[name]
    known = BACKENDS.names() + sorted(set(formats) - set(BACKENDS.names()))
    raise KeyError(f"unknown backend '{name}'{did_you_mean(name, known)}; known: {', '.join(known)}")


def all_precisions() -> list[str]:
    """Every precision some registered backend runs, in first-seen order."""
    return list(dict.fromkeys(p for n in BACKENDS.names() for p in BACKENDS.get(n).precisions))
