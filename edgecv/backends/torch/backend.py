"""The `torch` Backend object: eager PyTorch, the reference every other artifact is compared with.

Eager FP32 on the CPU is the reference. The same model file also runs on a GPU and at other dtypes:
precisions fp16/bf16 and the options device (cpu|cuda), channels_last, cuda_graphs, compile,
compile_mode and tf32 are recorded in the artifact's metadata (and in the file) and applied by `load`
(see runtime.py); `configure` gives an artifact of the same file with other run-time settings.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..base import Artifact, ArtifactMetadata, BaseBackend, Precision, Runner
from .builder import save_model_file
from .metadata import read_metadata
from .runner import make_runner
from .runtime import OPTIONS, RUNTIME_KEY, parse_runtime, runtime_of


class TorchBackend(BaseBackend):
    name = "torch"
    suffix = ".pt"
    extra = ""  # part of the core install
    format = "torch"
    modules = ("torch",)
    options = OPTIONS  # how the file runs: device, channels_last, cuda_graphs, compile, compile_mode, tf32

    def __init__(self):
        super().__init__([
            Precision("fp32", summary="eager PyTorch, the reference"),
            Precision("fp16", summary="the same model file run in float16 (CUDA; the CPU only where PyTorch runs it)"),
            Precision("bf16", summary="the same model file run in bfloat16 (CPU, or CUDA compute capability 8.0+)"),
        ])
        for p in self._precisions:
            self.attach_builder(p, self._builder_for(p))

    def _builder_for(self, precision: str):
        def build(model, sample, calibration, out_dir: Path, options) -> Artifact:
            return save_model_file(model, sample, precision, Path(out_dir), options, self.name)

        return build

    def configure(self, artifact: Artifact, precision: str | None = None,
                  options: Mapping[str, Any] | None = None) -> Artifact:
        """The same file run another way: a copy of `artifact` whose metadata records `precision` and
        `options` over what it had (checked as `build` checks them); nothing is written."""
        given = {k: v for k, v in (options or {}).items() if v is not None}
        unknown = set(given) - set(self.options)
        if unknown:
            raise ValueError(f"backend {self.name} does not take option(s) {', '.join(sorted(unknown))} "
                             f"(its options: {', '.join(self.options)})")
        now = runtime_of(artifact.metadata)
        if precision is not None:
            self.precision(precision)
        merged = {**now.options(), **given}
        if "compile_mode" in given and "compile" not in given:
            merged["compile"] = True  # a mode alone asks for torch.compile
        rt = parse_runtime(precision or now.precision, merged)
        extra = {**artifact.metadata.extra, RUNTIME_KEY: rt.record()}
        return Artifact(artifact.path, artifact.backend, artifact.metadata.copy(precision=rt.precision, extra=extra))

    def load(self, artifact: Artifact, threads: int | None = None) -> Runner:
        from ...models import load_model_file

        model, _ = load_model_file(artifact.path)
        shape = list(artifact.metadata.input_shape)[1:4]
        chw = tuple(shape) if len(shape) == 3 and all(isinstance(d, int) for d in shape) else None
        return make_runner(model, runtime_of(artifact.metadata), threads, chw)

    def inspect(self, path: str | Path) -> ArtifactMetadata:
        """Shape, preprocessing, params and MACs of an edgecv model file."""
        return read_metadata(path)
