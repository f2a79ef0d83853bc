"""Running a TensorRT engine: the GPU here, CUDA buffers, and the runner (TensorRT 10/11 name-based I/O).

CUDA memory comes from PyTorch's CUDA tensors where torch sees a GPU (a Jetson has NVIDIA's torch
wheels), else cuda-python (cuda.bindings), else pycuda where present. `choose_buffers` is the pure
decision; EDGECV_TRT_BUFFERS=torch|cuda-python|pycuda forces one.
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

if TYPE_CHECKING:  # the type checker reads TensorRT's stubs (tensorrt-stubs); nothing is imported at run time
    import tensorrt

BUFFER_LIBRARIES = ("torch", "cuda-python", "pycuda")  # in order of preference
ENV_BUFFERS = "EDGECV_TRT_BUFFERS"
GPU_NODES = ("/dev/nvidia0", "/dev/nvhost-ctrl-gpu", "/dev/nvgpu/igpu0/ctrl")  # discrete/x86, L4T <= 35, L4T 36
NO_BUFFERS = ("no library to hold CUDA buffers: install PyTorch with CUDA (on a Jetson, NVIDIA's JetPack wheel), "
              "cuda-python, or pycuda (pip install 'edgecv[tensorrt]')")


def bindings_version() -> tuple[int, ...]:
    """The release of the installed Python bindings, as numbers."""
    from .metadata import parse_version

    version = parse_version(import_tensorrt().__version__)
    if version is None:
        raise RuntimeError("could not read the TensorRT release from tensorrt.__version__")
    return version


def import_tensorrt():
    if not bindings_installed():  # also when only tensorrt-stubs is there: a namespace package with no code
        raise ImportError("the tensorrt Python bindings are not installed: pip install 'edgecv[tensorrt]'")
    try:
        import tensorrt as trt
    except ImportError as e:
        raise ImportError(f"the tensorrt Python bindings are not importable ({e}): pip install 'edgecv[tensorrt]'") from None
    return trt


def bindings_installed() -> bool:
    """Whether the tensorrt Python bindings are installed. Type stubs alone (tensorrt-stubs, for the type check)
    leave a `tensorrt` folder without code, which imports as an empty namespace package: not the bindings."""
    try:
        spec = importlib.util.find_spec("tensorrt")
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin is not None


def _findable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def has_nvidia_gpu() -> bool:
    """An NVIDIA GPU's device node (x86 or Jetson), else whatever torch sees (e.g. WSL)."""
    if any(os.path.exists(p) for p in GPU_NODES):
        return True
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # a broken CUDA install counts as no GPU
        return False


def gpu_identity() -> dict[str, str] | None:
    """{'name', 'compute_capability'} of the current GPU, through torch or cuda-python; None if unknown."""
    try:
        import torch

        if torch.cuda.is_available():
            i = torch.cuda.current_device()
            major, minor = torch.cuda.get_device_capability(i)
            return {"name": torch.cuda.get_device_name(i), "compute_capability": f"{major}.{minor}"}
    except Exception:  # a broken CUDA install reads as no GPU through torch; cuda-python is asked next
        pass
    try:
        rt = _cudart()
        err, dev = rt.cudaGetDevice()
        if err != rt.cudaError_t.cudaSuccess:
            return None
        err, prop = rt.cudaGetDeviceProperties(dev)
        if err != rt.cudaError_t.cudaSuccess:
            return None
        name = prop.name.decode() if isinstance(prop.name, bytes) else str(prop.name)
        return {"name": name.rstrip("\x00"), "compute_capability": f"{prop.major}.{prop.minor}"}
    except Exception:
        return None


def buffer_libraries() -> dict[str, bool]:
    """Which buffer libraries can work here (torch only with a usable CUDA device)."""
    torch_cuda = False
    if _findable("torch"):
        try:
            import torch

            torch_cuda = bool(torch.cuda.is_available())
        except Exception:  # torch that cannot init CUDA is not a buffer library here
            pass
    return {"torch": torch_cuda, "cuda-python": _findable("cuda.bindings") or _findable("cuda.cudart"),
            "pycuda": _findable("pycuda")}


def choose_buffers(have: Mapping[str, bool], prefer: str | None = None) -> str:
    """The buffer library to use, given which ones work here: torch, else cuda-python, else pycuda."""
    if prefer:
        if prefer not in BUFFER_LIBRARIES:
            raise ValueError(f"{ENV_BUFFERS}={prefer}: use one of {', '.join(BUFFER_LIBRARIES)}")
        if not have.get(prefer):
            why = "sees no CUDA device" if prefer == "torch" else "is not installed"
            raise ImportError(f"{ENV_BUFFERS}={prefer}, but {prefer} {why} here")
        return prefer
    for name in BUFFER_LIBRARIES:
        if have.get(name):
            return name
    raise ImportError(NO_BUFFERS)


@dataclass
class DeviceBuffer:
    ptr: int
    nbytes: int
    owner: Any = None  # what keeps the memory alive (a torch tensor, a cuda-python or pycuda allocation)


def _bytes(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1).view(np.uint8)


class TorchDevice:
    """CUDA memory as torch uint8 tensors, copies and work on one torch stream."""

    name = "torch"

    def __init__(self):
        import torch

        self._torch = torch
        self.stream = torch.cuda.Stream()
        self.handle = int(self.stream.cuda_stream)

    def alloc(self, nbytes: int) -> DeviceBuffer:
        t = self._torch.empty(max(1, int(nbytes)), dtype=self._torch.uint8, device="cuda")
        return DeviceBuffer(int(t.data_ptr()), int(nbytes), t)

    def upload(self, buf: DeviceBuffer, host: np.ndarray) -> None:
        src = self._torch.from_numpy(_bytes(np.ascontiguousarray(host)))
        with self._torch.cuda.stream(self.stream):
            buf.owner[: src.numel()].copy_(src)

    def download(self, host: np.ndarray, buf: DeviceBuffer) -> None:
        dst = self._torch.from_numpy(_bytes(host))  # host: a C-contiguous array the caller made
        with self._torch.cuda.stream(self.stream):
            dst.copy_(buf.owner[: dst.numel()])

    def sync(self) -> None:
        self.stream.synchronize()

    def free(self, buf: DeviceBuffer) -> None:
        buf.owner = None  # torch's allocator takes the memory back


def _cudart():
    try:
        from cuda.bindings import runtime
    except ImportError:  # cuda-python < 12.6
        from cuda import cudart as runtime
    return runtime


class CudaPythonDevice:
    """CUDA memory and a stream through cuda-python's runtime API."""

    name = "cuda-python"

    def __init__(self):
        self._rt = _cudart()
        self.stream = self._check(self._rt.cudaStreamCreate(), "cudaStreamCreate")
        self.handle = int(self.stream)
        self._pending: list[np.ndarray] = []  # host sources of copies not yet synchronised

    def _check(self, result, what: str):
        err = result[0] if isinstance(result, tuple) else result
        if err != self._rt.cudaError_t.cudaSuccess:
            raise RuntimeError(f"CUDA error {getattr(err, 'name', err)} in {what}")
        return result[1] if isinstance(result, tuple) and len(result) > 1 else None

    def alloc(self, nbytes: int) -> DeviceBuffer:
        ptr = self._check(self._rt.cudaMalloc(max(1, int(nbytes))), "cudaMalloc")
        return DeviceBuffer(int(ptr), int(nbytes), ptr)

    def upload(self, buf: DeviceBuffer, host: np.ndarray) -> None:
        src = np.ascontiguousarray(host)
        self._pending.append(src)
        kind = self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._check(self._rt.cudaMemcpyAsync(buf.ptr, src.ctypes.data, src.nbytes, kind, self.stream), "cudaMemcpyAsync")

    def download(self, host: np.ndarray, buf: DeviceBuffer) -> None:
        kind = self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._check(self._rt.cudaMemcpyAsync(host.ctypes.data, buf.ptr, host.nbytes, kind, self.stream), "cudaMemcpyAsync")

    def sync(self) -> None:
        self._check(self._rt.cudaStreamSynchronize(self.stream), "cudaStreamSynchronize")
        self._pending.clear()

    def free(self, buf: DeviceBuffer) -> None:
        if buf.owner is not None:
            self._rt.cudaFree(buf.owner)
            buf.owner = None


class PycudaDevice:
    """CUDA memory and a stream through pycuda, in the primary context TensorRT's runtime uses."""

    name = "pycuda"

    def __init__(self):
        import pycuda.driver as cuda

        try:
            import pycuda.autoprimaryctx  # noqa: F401
        except ImportError:  # pycuda < 2021.1
            import pycuda.autoinit  # noqa: F401
        self._cuda = cuda
        self.stream = cuda.Stream()
        self.handle = int(self.stream.handle)
        self._pending: list[np.ndarray] = []

    def alloc(self, nbytes: int) -> DeviceBuffer:
        mem = self._cuda.mem_alloc(max(1, int(nbytes)))
        return DeviceBuffer(int(mem), int(nbytes), mem)

    def upload(self, buf: DeviceBuffer, host: np.ndarray) -> None:
        src = np.ascontiguousarray(host)
        self._pending.append(src)
        self._cuda.memcpy_htod_async(buf.ptr, src, self.stream)

    def download(self, host: np.ndarray, buf: DeviceBuffer) -> None:
        self._cuda.memcpy_dtoh_async(host, buf.ptr, self.stream)

    def sync(self) -> None:
        self.stream.synchronize()
        self._pending.clear()

    def free(self, buf: DeviceBuffer) -> None:
        if buf.owner is not None:
            buf.owner.free()
            buf.owner = None


DEVICES = {"torch": TorchDevice, "cuda-python": CudaPythonDevice, "pycuda": PycudaDevice}


def make_device(prefer: str | None = None):
    """A device (alloc/upload/download/sync, `handle`: the CUDA stream) from the chosen buffer library."""
    return DEVICES[choose_buffers(buffer_libraries(), prefer or os.environ.get(ENV_BUFFERS))]()


def collecting_logger():
    """A TensorRT logger that keeps errors (for messages) and passes warnings on."""
    import tensorrt as trt

    class Collecting(trt.ILogger):
        def __init__(self):
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity, msg):
            if severity in (trt.ILogger.Severity.ERROR, trt.ILogger.Severity.INTERNAL_ERROR):
                self.errors.append(str(msg))

        def text(self) -> str:
            return "; ".join(self.errors[-3:])

    return Collecting()


def load_engine(path: str | Path) -> tuple[Any, tuple, "tensorrt.ICudaEngine"]:
    """(tensorrt, what must outlive the engine: its runtime and logger, the deserialized engine); a file
    TensorRT cannot load raises with TensorRT's reason."""
    import_tensorrt()  # the install hint when the bindings are missing
    import tensorrt as trt

    logger = collecting_logger()
    runtime = trt.Runtime(logger)
    engine = runtime.deserialize_cuda_engine(Path(path).read_bytes())
    if engine is None:
        raise ValueError(f"TensorRT {trt.__version__} could not load {path}: "
                         f"{logger.text() or 'not an engine of this TensorRT release and GPU'}")
    return trt, (runtime, logger), engine


def dims(shape: "tensorrt.Dims") -> tuple[int, ...]:
    """A TensorRT Dims as a tuple of ints (Dims is indexable and sliceable)."""
    return tuple(int(d) for d in shape[:])


def engine_io(engine: "tensorrt.ICudaEngine", path) -> dict[str, Any]:
    """The engine's one input, its outputs, every tensor's numpy dtype and the input's profile 0."""
    import tensorrt as trt

    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
    outputs = [n for n in names if n not in inputs]
    if len(inputs) != 1 or not outputs:
        raise ValueError(f"{path}: expected one image input and an output, the engine has inputs {inputs}")
    profile = tuple(dims(s) for s in engine.get_tensor_profile_shape(inputs[0], 0))
    return {"input": inputs[0], "outputs": outputs, "profile": profile,
            "shape": list(dims(engine.get_tensor_shape(inputs[0]))),
            "output_shapes": [list(dims(engine.get_tensor_shape(o))) for o in outputs],
            "dtypes": {n: np.dtype(trt.nptype(engine.get_tensor_dtype(n))) for n in names}}


class EngineRunner:
    """NCHW float32 batch -> logits (host numpy) through a deserialized engine. Batches above the
    profile's max run in chunks; below its min (static profiles) they are padded, the padding dropped."""

    def __init__(self, path: str | Path, threads: int | None = None, device=None):
        self.device = device or make_device()  # first: pycuda must make its context before TensorRT uses one
        trt, self._keep, engine = load_engine(path)
        self.engine, self.context = engine, engine.create_execution_context()
        io = engine_io(engine, path)
        self.input, self.outputs, self.dtypes = io["input"], io["outputs"], io["dtypes"]
        self.min_shape, self.max_shape = io["profile"][0], io["profile"][2]
        names = [self.input, *self.outputs]
        self.context.set_input_shape(self.input, self.max_shape)  # size every buffer for the largest batch
        self._bufs = {}
        for n in names:
            shape = self.max_shape if n == self.input else dims(self.context.get_tensor_shape(n))
            self._bufs[n] = self.device.alloc(int(np.prod(shape)) * self.dtypes[n].itemsize)
            self.context.set_tensor_address(n, self._bufs[n].ptr)
        self.info = {"provider": "TensorRT", "tensorrt": trt.__version__, "buffers": self.device.name,
                     "threads": threads, "profile": [list(self.min_shape), list(self.max_shape)],
                     "device": (gpu_identity() or {}).get("name")}

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(batch, dtype=self.dtypes[self.input])
        n, top = len(x), self.max_shape[0]
        if n > top:
            return np.concatenate([self(x[i:i + top]) for i in range(0, n, top)])
        pad = max(0, self.min_shape[0] - n)
        if pad:
            x = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)])
        if not self.context.set_input_shape(self.input, x.shape):
            raise ValueError(f"input shape {x.shape} is outside the engine's profile {self.min_shape}..{self.max_shape}")
        self.device.upload(self._bufs[self.input], x)
        if not self.context.execute_async_v3(self.device.handle):
            raise RuntimeError("TensorRT failed to enqueue the inference (execute_async_v3)")
        name = self.outputs[0]
        out = np.empty(dims(self.context.get_tensor_shape(name)), self.dtypes[name])
        self.device.download(out, self._bufs[name])
        self.device.sync()
        return out[:n].astype(np.float32, copy=False)

    def close(self) -> None:
        """Give the CUDA buffers back (also done when the runner is garbage-collected)."""
        for buf in getattr(self, "_bufs", {}).values():
            self.device.free(buf)
        self._bufs = {}

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: CUDA may already be gone
            pass
