"""How the `torch` backend runs a model file: device, dtype, memory format, CUDA graphs, torch.compile.

A torch artifact is always the same model file (FP32 weights and the spec to rebuild it); what varies is
how it runs, recorded as a `TorchRuntime` in the artifact's metadata (`extra["torch_runtime"]`, and in
the file itself) and applied by `load`:

    device         cpu | cuda | cuda:N
    precision      fp32 | fp16 | bf16 (the runtime dtype; fp16 on the CPU only where PyTorch runs it)
    channels_last  NHWC memory format for weights and inputs
    cuda_graphs    capture one static-shape CUDA graph per batch size after a warm-up, then replay it
    compile        torch.compile (compile_mode: default | reduce-overhead | max-autotune | ...)
    tf32           let CUDA fp32 convolutions and matmuls round through TF32 (off: fp32 means fp32, as
                   in TensorRT's fp32 engines)

Eager FP32 on the CPU is the reference every artifact is compared with; `module_runner` runs it exactly
as before. CUDA runners copy the batch in from pinned host memory, synchronise before they return, and
time themselves with CUDA events (`time_call`, info["timing"] == "cuda_events").
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

RUNTIME_KEY = "torch_runtime"  # in ArtifactMetadata.extra and in the model file
OPTIONS = ("device", "channels_last", "cuda_graphs", "compile", "compile_mode", "tf32")
DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?)$")


@dataclass(frozen=True)
class TorchRuntime:
    device: str = "cpu"
    precision: str = "fp32"
    channels_last: bool = False
    cuda_graphs: bool = False
    compile: bool = False
    compile_mode: str = "default"
    tf32: bool = False

    @property
    def dtype(self) -> str:
        return DTYPES[self.precision]

    @property
    def cuda(self) -> bool:
        return self.device.startswith("cuda")

    @property
    def reference(self) -> bool:
        """Eager FP32 on the CPU: the reference every artifact is compared with."""
        return self == TorchRuntime()

    def options(self) -> dict[str, Any]:
        """The backend options that give this runtime (with its precision)."""
        return {k: v for k, v in asdict(self).items() if k != "precision"}

    def record(self) -> dict[str, Any]:
        return {**asdict(self), "dtype": self.dtype}

    def describe(self) -> str:
        """e.g. 'cuda fp16 channels-last cuda-graphs'."""
        parts = [self.device, self.precision]
        parts += [name for name, on in (("channels-last", self.channels_last), ("cuda-graphs", self.cuda_graphs),
                                        ("tf32", self.tf32)) if on]
        if self.compile:
            parts.append("compile" if self.compile_mode == "default" else f"compile:{self.compile_mode}")
        return " ".join(parts)


def parse_runtime(precision: str, options: Mapping[str, Any] | None = None) -> TorchRuntime:
    """A TorchRuntime from a precision and the backend's options (None values are unset); every value is
    checked and a combination that cannot run is refused with a one-line reason."""
    opts = {k: v for k, v in (options or {}).items() if k in OPTIONS and v is not None}
    if precision not in DTYPES:
        raise ValueError(f"torch runs {', '.join(DTYPES)}, not '{precision}'")
    device = str(opts.get("device", "cpu")).strip().lower()
    if not _DEVICE.match(device):
        raise ValueError(f"torch option device must be cpu, cuda or cuda:N, got {opts['device']!r}")
    flags = {}
    for name in ("channels_last", "cuda_graphs", "compile", "tf32"):
        value = opts.get(name, False)
        if not isinstance(value, bool):
            raise ValueError(f"torch option {name} must be true or false, got {value!r}")
        flags[name] = value
    mode = opts.get("compile_mode")
    if mode is not None:
        if mode not in COMPILE_MODES:
            raise ValueError(f"torch option compile_mode must be one of {', '.join(COMPILE_MODES)}, got {mode!r}")
        if "compile" not in opts:
            flags["compile"] = True  # a mode alone asks for torch.compile
    cuda = device.startswith("cuda")
    if flags["cuda_graphs"] and not cuda:
        raise ValueError("torch option cuda_graphs needs device cuda (CUDA graphs replay GPU work)")
    if flags["cuda_graphs"] and flags["compile"]:
        raise ValueError("torch options cuda_graphs and compile do not combine: for torch.compile's own CUDA graphs "
                         "use compile_mode reduce-overhead")
    if flags["tf32"] and not (cuda and precision == "fp32"):
        raise ValueError("torch option tf32 applies to fp32 on device cuda only")
    return TorchRuntime(device=device, precision=precision, compile_mode=(mode or "default") if flags["compile"] else "default",
                        **flags)


def runtime_of(meta) -> TorchRuntime:
    """What an artifact's metadata records (files without a record run as recorded precision, eager on the CPU)."""
    rec = meta.extra.get(RUNTIME_KEY)
    if not isinstance(rec, Mapping):
        return parse_runtime(meta.precision if meta.precision in DTYPES else "fp32")
    known = {f.name for f in fields(TorchRuntime)}
    rec = {k: v for k, v in rec.items() if k in known}
    return parse_runtime(rec.pop("precision", meta.precision), rec)
