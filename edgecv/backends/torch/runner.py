"""Runners of the `torch` backend: the eager CPU FP32 reference (`module_runner`), other dtypes and
memory formats on the CPU (`cpu_runner`), and CUDA (`CudaModuleRunner`: pinned copies, CUDA graphs,
torch.compile, CUDA-event timing). `make_runner` picks one for a TorchRuntime (runtime.py).
"""
from __future__ import annotations

import contextlib
import copy
from typing import Any

import numpy as np

from ...utils.errors import first_line
from ...utils.timing import CUDA_EVENTS, CallTiming
from ..base import FunctionRunner, Runner
from .runtime import TorchRuntime

GRAPH_WARMUP = 3  # eager calls on a side stream before a graph is captured (cuDNN picks its algorithms there)


class CompileError(RuntimeError):
    """torch.compile failed; the message is one line."""


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


def make_runner(model, rt: TorchRuntime, threads: int | None = None, chw: tuple[int, int, int] | None = None):
    """A Runner for `model` under `rt`. The model is moved and cast in place (pass a copy to keep yours)."""
    if rt.reference:
        return module_runner(model, threads)
    if rt.cuda:
        return CudaModuleRunner(model, rt, threads)
    if rt.precision == "fp16" and chw is not None:
        check_cpu_half(model, chw)
    return cpu_runner(model, rt, threads)


def check_cpu_half(model, chw: tuple[int, int, int]) -> None:
    """fp16 on the CPU runs only where PyTorch has half-precision CPU kernels for every op of the model:
    try one image on a copy and refuse with the reason if it fails."""
    import torch

    probe = copy.deepcopy(model).eval().to(torch.float16)
    try:
        with torch.inference_mode():
            probe(torch.zeros((1, *chw), dtype=torch.float16))
    except Exception as e:
        raise ValueError(f"fp16 cannot run on the CPU with PyTorch {torch.__version__} for this model ({first_line(e, 160)}); "
                         "use bf16 on the CPU, or fp16 with device cuda") from None


def _compiled(torch, model, mode: str):
    """torch.compile(model) whose first call per input shape (when compilation happens) fails in one line."""
    what = f"torch.compile (mode {mode})"
    try:
        fn = torch.compile(model, mode=None if mode == "default" else mode, dynamic=False)
    except Exception as e:
        raise CompileError(f"{what} is not usable here: {first_line(e, 200)}") from None
    seen: set[tuple] = set()

    def call(x):
        key = (tuple(x.shape), x.dtype)
        if key in seen:
            return fn(x)
        try:
            out = fn(x)
        except Exception as e:
            raise CompileError(f"{what} failed for input {list(x.shape)}: {type(e).__name__}: {first_line(e, 200)}; "
                               "run without compile") from None
        seen.add(key)
        return out

    return call


def cpu_runner(model, rt: TorchRuntime, threads: int | None = None):
    """Eager (or compiled) PyTorch on the CPU at `rt`'s dtype and memory format; logits as float32 numpy."""
    import torch

    dtype = getattr(torch, rt.dtype)
    fmt = torch.channels_last if rt.channels_last else torch.contiguous_format
    model = model.eval().to(dtype=dtype)
    if rt.channels_last:
        model = model.to(memory_format=torch.channels_last)
    forward = _compiled(torch, model, rt.compile_mode) if rt.compile else model

    def run(x: np.ndarray) -> np.ndarray:
        if threads and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        with torch.inference_mode():
            t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(dtype=dtype, memory_format=fmt)
            return forward(t).float().numpy()

    info = {"device": "cpu", "threads": threads or torch.get_num_threads(), "runtime": rt.describe(),
            "dtype": rt.dtype, "channels_last": rt.channels_last, "compile": rt.compile_mode if rt.compile else None}
    return FunctionRunner(run, info)


def cuda_problem(rt: TorchRuntime) -> str | None:
    """Why `rt` cannot run on this machine's GPU, in one line; None when it can."""
    import torch

    if not torch.cuda.is_available():
        why = ("this PyTorch is a CPU-only build" if torch.version.cuda is None
               else f"PyTorch (CUDA {torch.version.cuda}) finds no NVIDIA driver or device")
        return f"device {rt.device} asked for, but there is no usable CUDA GPU here: {why}"
    index = int(rt.device.split(":")[1]) if ":" in rt.device else torch.cuda.current_device()
    if index >= torch.cuda.device_count():
        return f"device {rt.device} asked for, but this machine has {torch.cuda.device_count()} CUDA device(s)"
    if rt.precision == "bf16":
        try:
            ok = torch.cuda.is_bf16_supported(including_emulation=False)
        except TypeError:  # older PyTorch: no emulation flag
            ok = torch.cuda.is_bf16_supported()
        if not ok:
            major, minor = torch.cuda.get_device_capability(index)
            return (f"bf16 needs a GPU with native bfloat16 (compute capability 8.0+); "
                    f"{torch.cuda.get_device_name(index)} is {major}.{minor}: use fp16")
    return None


class CudaModuleRunner:
    """A model on one CUDA device at a runtime dtype and memory format, eager, compiled or replayed from
    CUDA graphs (one per input shape, captured after a warm-up). Each call copies the batch in from pinned
    host memory, runs, copies the float32 logits out and synchronises; `time_call` does the same and
    returns the CUDA-event times of the three phases."""

    def __init__(self, model, rt: TorchRuntime, threads: int | None = None):
        import torch

        from ...utils.cuda_timing import CallClock

        problem = cuda_problem(rt)
        if problem:
            raise RuntimeError(problem)
        self._torch, self.rt = torch, rt
        index = int(rt.device.split(":")[1]) if ":" in rt.device else torch.cuda.current_device()
        self.device = torch.device("cuda", index)
        self.dtype = getattr(torch, rt.dtype)
        self.memory_format = torch.channels_last if rt.channels_last else torch.contiguous_format
        with torch.cuda.device(self.device):
            model = model.eval().to(self.device, dtype=self.dtype)
            if rt.channels_last:
                model = model.to(memory_format=torch.channels_last)
            self.model = model
            self._forward = _compiled(torch, model, rt.compile_mode) if rt.compile else model
            self._clock = CallClock(torch, self.device)
        self._graphs: dict[tuple, tuple] = {}  # input shape -> (graph, static input, static float32 output)
        self._pinned: dict[tuple, Any] = {}  # input shape -> pinned host staging tensor
        name = torch.cuda.get_device_name(self.device)
        self.info = {"device": f"{self.device} ({name})", "gpu": name, "threads": threads, "timing": CUDA_EVENTS,
                     "runtime": rt.describe(), "dtype": rt.dtype, "channels_last": rt.channels_last,
                     "cuda_graphs": rt.cuda_graphs, "compile": rt.compile_mode if rt.compile else None,
                     "tf32": rt.tf32, "cudnn_benchmark": True}

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self._run(batch, None)

    def time_call(self, batch: np.ndarray) -> CallTiming:
        self._run(batch, self._clock)
        return self._clock.result()

    @contextlib.contextmanager
    def _settings(self):
        """PyTorch's process-wide switches for this runner's calls, restored afterwards: cuDNN's autotuner
        on (per-shape algorithm search, as TensorRT's tactic selection) and TF32 as the runtime says."""
        b = self._torch.backends
        mode = "tf32" if self.rt.tf32 else "ieee"
        new_api = hasattr(b.cudnn, "conv") and hasattr(b.cudnn.conv, "fp32_precision")  # PyTorch 2.9+
        if new_api:
            saved = (b.cudnn.benchmark, b.cudnn.conv.fp32_precision, b.cuda.matmul.fp32_precision)
            b.cudnn.conv.fp32_precision = b.cuda.matmul.fp32_precision = mode
        else:
            saved = (b.cudnn.benchmark, b.cudnn.allow_tf32, b.cuda.matmul.allow_tf32)
            b.cudnn.allow_tf32 = b.cuda.matmul.allow_tf32 = self.rt.tf32
        b.cudnn.benchmark = True
        try:
            yield
        finally:
            if new_api:
                b.cudnn.benchmark, b.cudnn.conv.fp32_precision, b.cuda.matmul.fp32_precision = saved
            else:
                b.cudnn.benchmark, b.cudnn.allow_tf32, b.cuda.matmul.allow_tf32 = saved

    def _run(self, batch: np.ndarray, clock) -> np.ndarray:
        torch = self._torch
        x = np.ascontiguousarray(batch, dtype=np.float32)
        with self._settings(), torch.cuda.device(self.device), torch.inference_mode():
            host = self._pinned.get(x.shape)
            if host is None:
                host = self._pinned[x.shape] = torch.empty(x.shape, dtype=torch.float32, pin_memory=True)
            host.copy_(torch.from_numpy(x))
            if clock is not None:
                clock.start()
            dev = host.to(self.device, non_blocking=True)
            if clock is not None:
                clock.mark()
            out = self._compute(dev)
            if clock is not None:
                clock.mark()
            logits = out.to("cpu")  # pageable host memory: returns once the copy is done
            if clock is not None:
                clock.mark()
            torch.cuda.current_stream(self.device).synchronize()
        return logits.numpy()

    def _compute(self, dev):
        if self.rt.cuda_graphs:
            graph, static_in, static_out = self._graph(dev)
            static_in.copy_(dev)  # cast and reorder into the captured input
            graph.replay()
            return static_out
        return self._forward(dev.to(dtype=self.dtype, memory_format=self.memory_format)).float()

    def _graph(self, dev):
        key = tuple(dev.shape)
        if key not in self._graphs:
            torch = self._torch
            static_in = torch.empty(key, dtype=self.dtype, device=self.device).contiguous(memory_format=self.memory_format)
            static_in.copy_(dev)
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                for _ in range(GRAPH_WARMUP):
                    self.model(static_in)
            torch.cuda.current_stream(self.device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = self.model(static_in).float()
            self._graphs[key] = (graph, static_in, static_out)
        return self._graphs[key]
