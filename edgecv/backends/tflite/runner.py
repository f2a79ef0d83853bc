"""Run a .tflite file like every other backend: NCHW float32 (normalised) batch in, float logits out.

The runner adapts the harness's tensor to what the file wants:
- layout: NHWC or NCHW, read from the input tensor's shape (metadata when the shape is ambiguous);
- dtype: float inputs get the normalised tensor; integer inputs get either
  * "normalized": the normalised tensor quantised with the input's scale/zero-point (edgecv int8
    files, whose int8 input *is* the quantised normalised image), or
  * "pixels": raw 0-255 RGB (uint8; int8 as pixel - 128), recovered by undoing the harness's
    mean/std; the convention of foreign integer models such as Coral's MobileNets. It is the
    default for integer-input files edgecv did not make, so any --mean/--std gives the same result;
- outputs: integer outputs are dequantised with their scale/zero-point.

The interpreter is ai-edge-litert's, else tflite-runtime's (Jetson / Raspberry Pi images often
have only that), with XNNPACK (the default CPU delegate of both) and a thread count.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...utils.errors import first_line
from ...utils.io import quiet_native_output
from ..layout import input_adapter

RUNTIME_HINT = (
    "running .tflite files needs LiteRT: pip install 'edgecv[tflite]' "
    "(or, on Jetson / Raspberry Pi, pip install tflite-runtime)"
)
ENCODINGS = ("normalized", "pixels")


def import_interpreter():
    """(Interpreter class, its module, runtime name): ai-edge-litert first, tflite-runtime second."""
    try:
        from ai_edge_litert import interpreter as mod

        return mod.Interpreter, mod, "ai-edge-litert"
    except ImportError:
        pass
    try:
        from tflite_runtime import interpreter as mod  # type: ignore[import-not-found]

        return mod.Interpreter, mod, "tflite-runtime"
    except ImportError:
        raise ImportError(RUNTIME_HINT) from None


def check_flatbuffer(path: Path) -> None:
    """Fail early and clearly on a file that is not a TFLite flatbuffer (truncated, HTML, ONNX...)."""
    if not path.is_file():
        raise FileNotFoundError(f"TFLite model not found: {path}")
    head = path.read_bytes()[:8] if path.stat().st_size >= 8 else b""
    if head[4:8] != b"TFL3":
        raise ValueError(
            f"{path} is not a valid TFLite model (no 'TFL3' flatbuffer identifier; the file is corrupt, "
            "truncated or another format): re-export it with `edgecv export ... --to tflite -o FILE.tflite` "
            "or download it again"
        )


def make_interpreter(path: Path, threads: int | None = None, xnnpack: bool = True):
    Interpreter, mod, runtime = import_interpreter()
    check_flatbuffer(path)
    kwargs = {"model_path": str(path), "num_threads": threads}
    if not xnnpack and hasattr(mod, "OpResolverType"):
        kwargs["experimental_op_resolver_type"] = mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        with quiet_native_output():  # the runtime announces its XNNPACK delegate on the console
            interp = Interpreter(**kwargs)
            interp.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        raise ValueError(
            f"{runtime} cannot load {path}: {first_line(e)}; the file is corrupt or uses "
            "ops this runtime lacks: re-export it with `edgecv export ... --to tflite` or upgrade ai-edge-litert"
        ) from None
    return interp, runtime


def infer_layout(shape, fallback: str = "NCHW") -> str:
    """NHWC when the last dim looks like channels and the second does not; NCHW the other way round."""
    if len(shape) != 4:
        return fallback
    last_c, second_c = shape[3] in (1, 3), shape[1] in (1, 3)
    if last_c and not second_c:
        return "NHWC"
    if second_c and not last_c:
        return "NCHW"
    return fallback.upper()


class TFLiteRunner:
    def __init__(self, path, metadata, threads: int | None = None, xnnpack: bool = True):
        self.path = Path(path)
        self.interpreter, self.runtime = make_interpreter(self.path, threads, xnnpack)
        self.threads, self.xnnpack = threads, xnnpack
        self._in = self.interpreter.get_input_details()[0]
        self._out = self.interpreter.get_output_details()[0]
        shape = [int(d) for d in self._in["shape"]]
        self.layout = infer_layout(shape, getattr(metadata, "layout", "NCHW"))
        self.in_dtype = np.dtype(self._in["dtype"])
        self.integer_input = np.issubdtype(self.in_dtype, np.integer)
        extra = getattr(metadata, "extra", {}) or {}
        # edgecv files say how they are fed; integer files from elsewhere take raw pixels
        self.encoding = extra.get("input_encoding") or ("pixels" if self.integer_input else "normalized")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"{self.path}: unknown input_encoding '{self.encoding}' in its metadata; use {ENCODINGS}")
        self.mean = np.asarray(getattr(metadata, "mean", [0.0, 0.0, 0.0]), np.float32).reshape(1, -1, 1, 1)
        self.std = np.asarray(getattr(metadata, "std", [1.0, 1.0, 1.0]), np.float32).reshape(1, -1, 1, 1)
        c, h, w = (shape[3], shape[1], shape[2]) if self.layout == "NHWC" else (shape[1], shape[2], shape[3])
        self.chw = (c, h, w)
        sig = [int(d) for d in self._in.get("shape_signature", shape)]
        self.dynamic_batch = bool(sig) and sig[0] == -1
        self._batch = shape[0]
        dtype = self.in_dtype.name if self.encoding == "pixels" or not self.integer_input else "float32"
        self._adapt = input_adapter(self.layout, dtype, self.mean.ravel(), self.std.ravel())
        self.info = self.describe()

    def describe(self) -> dict:
        c, h, w = self.chw
        return {
            "device": "cpu (xnnpack)" if self.xnnpack else "cpu", "runtime": self.runtime, "threads": self.threads, "xnnpack": self.xnnpack, "layout": self.layout,
            "input_dtype": self.in_dtype.name, "input_shape": [int(d) for d in self._in["shape"]],
            "input_encoding": self.encoding, "output_dtype": np.dtype(self._out["dtype"]).name,
        }

    def __call__(self, x: np.ndarray) -> np.ndarray:
        feed = self.feed(x)
        if self.dynamic_batch:
            return self._invoke(feed)
        return np.concatenate([self._invoke(feed[i : i + 1]) for i in range(len(feed))], axis=0)

    def feed(self, x: np.ndarray) -> np.ndarray:
        """The tensor the interpreter is given for a harness batch (also what an emulated runtime is sent)."""
        x = np.asarray(x, dtype=np.float32)
        self._check(x)
        return self._to_input(x)

    def logits(self, out: np.ndarray, images: int) -> np.ndarray:
        """Float logits, one row per image, from the interpreter's raw output (integer outputs dequantised)."""
        if np.issubdtype(out.dtype, np.integer):
            scale, zero = self._out["quantization"]
            out = (out.astype(np.float32) - zero) * (scale or 1.0)
        return np.asarray(out, dtype=np.float32).reshape(images, -1)

    def _check(self, x: np.ndarray) -> None:
        c, h, w = self.chw
        if x.ndim != 4 or tuple(x.shape[1:]) != (c, h, w):
            got = "x".join(str(d) for d in x.shape[1:]) if x.ndim == 4 else f"a {x.ndim}-D array"
            raise ValueError(
                f"{self.path.name} expects {c}x{h}x{w} images (CxHxW; the file is {self.layout} "
                f"{self.in_dtype.name} {list(self._in['shape'])}) but got {got}: feed {h}x{w} images "
                f"(`edgecv bench ... --size {h}` for a square crop), or re-export the model at your data's size"
            )

    def _to_input(self, x: np.ndarray) -> np.ndarray:
        if self.integer_input and self.encoding == "normalized":
            scale, zero = self._in["quantization"]
            if not scale:
                raise ValueError(f"{self.path.name}: integer input without quantization parameters; cannot feed it")
            info = np.iinfo(self.in_dtype)
            x = np.clip(np.rint(x / scale + zero), info.min, info.max).astype(self.in_dtype)
            return np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if self.layout == "NHWC" else x
        # float input, or raw pixels: the shared adapter (undo mean/std -> 0..255, int8 shift, NHWC)
        return self._adapt(x) if self._adapt is not None else x

    def _invoke(self, feed: np.ndarray) -> np.ndarray:
        interp = self.interpreter
        if self.dynamic_batch and feed.shape[0] != self._batch:
            interp.resize_tensor_input(self._in["index"], list(feed.shape))
            interp.allocate_tensors()
            self._batch = feed.shape[0]
        interp.set_tensor(self._in["index"], feed)
        interp.invoke()
        return self.logits(interp.get_tensor(self._out["index"]), feed.shape[0])
