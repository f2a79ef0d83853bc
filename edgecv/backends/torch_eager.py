"""The `torch` backend: eager PyTorch, the reference every other artifact is compared with.

Eager FP32 on the CPU is the reference. The same model file also runs on a GPU and at other dtypes:
precisions fp16/bf16 and the options device (cpu|cuda), channels_last, cuda_graphs, compile,
compile_mode and tf32 are recorded in the artifact's metadata (and in the file) and applied by `load`
(see torch_runtime.py); `configure` gives an artifact of the same file with other run-time settings.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .base import BACKENDS, Artifact, ArtifactMetadata, BaseBackend, FunctionRunner, Precision, Runner
from .metadata import artifact_metadata
from .torch_runtime import OPTIONS, RUNTIME_KEY, check_cpu_half, make_runner, parse_runtime, runtime_of


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
            return self._build(model, sample, precision, Path(out_dir), options)

        return build

    def _build(self, model, sample, precision: str, out_dir: Path, options) -> Artifact:
        """Save the model as an edgecv model file (weights + spec), so `load_model` rebuilds it, with the
        run-time settings recorded in the file and the sidecar; fp16 for the CPU is tried first."""
        from ..models import save_model

        rt = parse_runtime(precision, options)
        if rt.precision == "fp16" and not rt.cuda:
            check_cpu_half(model, tuple(int(d) for d in tuple(sample.shape)[1:]))
        meta = artifact_metadata(model, sample, precision, preprocess=options.get("preprocess"))
        meta.extra[RUNTIME_KEY] = rt.record()
        path = Path(out_dir) / f"{meta.source_model}-{precision}{self.suffix}"
        save_model(model, path, {"class_names": meta.class_names, RUNTIME_KEY: rt.record()})
        art = Artifact(path, self.name, meta)
        art.save_metadata()
        return art

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
        from ..models import load_model

        model, _ = load_model(artifact.path)
        shape = list(artifact.metadata.input_shape)[1:4]
        chw = tuple(shape) if len(shape) == 3 and all(isinstance(d, int) for d in shape) else None
        return make_runner(model, runtime_of(artifact.metadata), threads, chw)

    def inspect(self, path: str | Path) -> ArtifactMetadata:
        """Shape, preprocessing, params and MACs of an edgecv model file."""
        from ..models import data_config, load_model, model_name
        from ..utils.profile import count_macs, count_params

        model, ckpt = load_model(path)
        saved = ckpt.get("data_config") or {}
        cfg = {**data_config(model), **saved}
        size = int(cfg["input_size"][-1])
        meta = ArtifactMetadata(source_model=model_name(model), input_shape=["batch", 3, size, size],
                                mean=[float(v) for v in cfg["mean"]], std=[float(v) for v in cfg["std"]],
                                class_names=ckpt.get("class_names"))
        if isinstance(ckpt.get(RUNTIME_KEY), dict):  # how the file was built to run
            meta.extra[RUNTIME_KEY] = dict(ckpt[RUNTIME_KEY])
            meta.precision = runtime_of(meta).precision
        meta.extra["params"] = count_params(model)
        try:
            meta.extra["macs"] = count_macs(model, (1, 3, size, size))
        except Exception:  # a model the flop counter cannot trace still gets its params
            meta.extra["macs"] = None
        return meta


def module_runner(model, threads: int | None = None, device=None) -> Runner:
    """A runner over an in-memory nn.Module (eval mode, inference_mode); logits come back as numpy.

    `threads` is applied on every call (torch's pool is process-wide), so torch rows run with the
    same explicit thread count as the other backends; CUDA work is synchronised by `.cpu()`."""
    import torch

    device = torch.device(device) if device is not None else next(iter(model.parameters()), torch.empty(0)).device
    model = model.eval()

    def run(x: np.ndarray) -> np.ndarray:
        if threads and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        with torch.inference_mode():
            return model(torch.from_numpy(x).to(device)).float().cpu().numpy()

    return FunctionRunner(run, {"device": str(device), "threads": threads or torch.get_num_threads()})


TORCH = TorchBackend()  # `edgecv bench --device/--precision ...` reconfigures torch artifacts through it
BACKENDS.register("torch", TORCH)
