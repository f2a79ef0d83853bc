"""Run a .pte with ExecuTorch's Python runtime (the C++ runtime behind pybindings), and read what a
.pte expects.

The runtime's XNNPACK thread pool is process-wide, and a method takes the pool when it is loaded:
resizing the pool (`_unsafe_reset_threadpool`, the only way the Python runtime offers) leaves methods
loaded before it pointing at the freed pool, which crashed the process here (a segfault on the next
call). So a runner sizes the pool before it loads its method, and a runner whose method predates a
resize loads it again; one process-wide lock keeps pool changes and calls apart.
"""
from __future__ import annotations

import functools
import json
import threading
import warnings
from pathlib import Path

import numpy as np

from ...utils.errors import first_line
from ...utils.io import quiet_native_output
from ..base import ArtifactMetadata
from ..layout import input_adapter
from ..metadata import file_metadata

_DTYPES = {0: "uint8", 1: "int8", 3: "int32", 4: "int64", 5: "float16", 6: "float32", 7: "float64"}  # c10 ScalarType


@functools.lru_cache(maxsize=1)
def runtime():
    """ExecuTorch's Runtime singleton; importing it loads the compiled runtime (linked to libtorch)."""
    with warnings.catch_warnings(), quiet_native_output():  # "experimental API" notices, cpuinfo's probing
        warnings.simplefilter("ignore")
        from executorch.runtime import Runtime

        return Runtime.get()


def runtime_problem() -> str | None:
    """Why the compiled runtime does not load here (e.g. built for another torch), or None."""
    try:
        rt = runtime()
    except (ImportError, OSError, RuntimeError) as e:
        return f"executorch's compiled runtime does not load ({first_line(e)})"
    if not rt.backend_registry.is_available("XnnpackBackend"):
        return "executorch's runtime has no XNNPACK backend"
    return None


def _pool():
    from executorch.extension.pybindings import portable_lib

    return portable_lib


_POOL_LOCK = threading.Lock()  # pool changes and calls, process-wide
_pool_generation = 0  # how many times the pool was resized


def set_threads(threads: int | None) -> int:
    """Size the runtime's thread pool (when `threads` is given; hold _POOL_LOCK); its size now."""
    global _pool_generation
    pool = _pool()
    if threads and pool._threadpool_get_thread_count() != threads:
        with quiet_native_output():  # it announces the reset on stderr
            pool._unsafe_reset_threadpool(int(threads))
        _pool_generation += 1
    return int(pool._threadpool_get_thread_count())


def load_program(path: Path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ExecuTorch program not found: {path}")
    try:
        return runtime().load_program(path)
    except RuntimeError as e:
        raise ValueError(f"{path} is not a loadable ExecuTorch program: {first_line(e)}") from None


class ExecuTorchRunner:
    """NCHW float32 batch -> logits through the program's `forward`; batches are split (and the last
    one padded, for a fixed batch) to what the program was planned for."""

    def __init__(self, path: Path, metadata: ArtifactMetadata, threads: int | None = None):
        from ...utils.versions import package_versions

        self.path, self.threads = Path(path), threads
        with _POOL_LOCK:
            pool_threads = set_threads(threads)
            self._load()
        sizes = list(self._method.metadata.input_tensor_meta(0).sizes())
        self.capacity = int(sizes[0])  # the planned batch: fixed, or the upper bound of a dynamic one
        self.dynamic = not isinstance(metadata.input_shape[0], int)
        self._adapt = input_adapter(metadata.layout, metadata.input_dtype, metadata.mean, metadata.std)
        self.info = {"device": "cpu (xnnpack)", "runtime": f"executorch {package_versions(['executorch']).get('executorch')}",
                     "threads": pool_threads, "planned_batch": self.capacity, "dynamic_batch": self.dynamic}

    def _load(self) -> None:
        """(Re)load `forward` on the pool as it is now (hold _POOL_LOCK)."""
        self._method = load_program(self.path).load_method("forward")
        self._generation = _pool_generation

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        import torch

        x = np.ascontiguousarray(batch, dtype=np.float32)
        x = self._adapt(x) if self._adapt is not None else x
        outs = []
        with _POOL_LOCK:
            set_threads(self.threads)
            if self._generation != _pool_generation:  # the pool this method took is gone
                self._load()
            for s in range(0, len(x), self.capacity):
                chunk = x[s : s + self.capacity]
                pad = 0 if self.dynamic else self.capacity - len(chunk)
                if pad:  # a fixed batch: fill with copies of the last image, then drop their outputs
                    chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, axis=0)])
                out = self._method.execute([torch.from_numpy(np.ascontiguousarray(chunk))])[0]
                outs.append(out.numpy()[: len(chunk) - pad])
        return np.concatenate(outs).astype(np.float32, copy=False)


def describe_pte(path: Path) -> ArtifactMetadata:
    """Input shape, dtype and layout from the program's `forward`; edgecv's metadata from its constant
    method when it has one (files made elsewhere are described from their shapes alone)."""
    from .builder import METADATA_METHOD

    program = load_program(path)
    if "forward" not in program.method_names:
        raise ValueError(f"{path}: the program has no 'forward' method (it has {', '.join(sorted(program.method_names))})")
    info = program.metadata("forward")
    if info.num_inputs() != 1:
        raise ValueError(f"{path}: expected one image input, 'forward' takes {info.num_inputs()}")
    tensor = info.input_tensor_meta(0)
    embedded = None
    if METADATA_METHOD in program.method_names:
        embedded = json.loads(program.load_method(METADATA_METHOD).execute([])[0])
    # the program's input is its planned (largest) batch; edgecv's metadata says whether the batch is dynamic
    meta = file_metadata(path, [int(d) for d in tensor.sizes()], _DTYPES.get(int(tensor.dtype()), "float32"), embedded,
                         from_file=("layout", "input_dtype"))
    meta.extra["outputs"] = [[int(d) for d in info.output_tensor_meta(i).sizes()] for i in range(info.num_outputs())]
    return meta
