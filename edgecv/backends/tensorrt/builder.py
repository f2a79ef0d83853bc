"""Building a TensorRT engine: the builder options, the optimization profile, the version decision
table, what kind of ONNX a build needs, INT8 calibration (batches and cache) and the build itself.

Everything but `build_serialized` is pure and needs no TensorRT; `build_serialized` imports it and is
written against the TensorRT 10 and 11 Python APIs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ...utils.io import atomic_path
from .metadata import decode_version_int, release
from .runner import collecting_logger, make_device

OPTIONS = ("batch", "workspace_mb", "timing_cache", "dla_core", "gpu_fallback", "int8_mode",
           "calibration_cache", "onnx", "builder")
PRECISIONS = ("fp32", "fp16", "int8")
INT8_MODES = ("auto", "qdq", "implicit")  # qdq: the quantize stage's Q/DQ ONNX; implicit: calibrate here (TRT 10)
BUILDERS = ("auto", "python", "trtexec")
DEFAULT_MAX_BATCH = 32  # a dynamic profile's default max batch (edgecv bench's largest default batch)
CALIBRATION_BATCH = 32
OLDEST_MAJOR = 10  # name-based I/O (num_io_tensors, execute_async_v3); JetPack 6.1+ ships 10.3
DLA_IN_11_FROM = (11, 4, 1)  # 11.0-11.4.0 have no DLA; 11.4.1 brings it back on Jetson AGX Orin (JetPack 7.2.2)


class VersionError(ValueError):
    """The TensorRT release here cannot build what was asked (never answered by building something else)."""


@dataclass(frozen=True)
class EngineOptions:
    batch: tuple[int, int, int] | None = None
    workspace_mb: int | None = None
    timing_cache: Path | None = None
    dla_core: int | None = None
    gpu_fallback: bool = True
    int8_mode: str = "auto"
    calibration_cache: Path | None = None
    onnx: Path | None = None
    builder: str = "auto"


def _int(value: Any, what: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str, np.integer)) or not str(value).strip().isdigit():
        raise ValueError(f"{what} must be a whole number >= {minimum}, got {value!r}")
    n = int(value)
    if n < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {n}")
    return n


def parse_batch(value: Any) -> tuple[int, int, int]:
    """Option `batch`: one size (8: a static profile) or min, opt, max (`1,8,32`, [1, 8, 32], {min:, opt:, max:})."""
    if isinstance(value, Mapping):
        missing = [k for k in ("min", "opt", "max") if k not in value]
        if missing:
            raise ValueError(f"batch: give min, opt and max (missing {', '.join(missing)})")
        parts = [value["min"], value["opt"], value["max"]]
    elif isinstance(value, str):
        parts = [p for p in re.split(r"[,\s]+", value.strip()) if p]
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        parts = [value]
    if len(parts) not in (1, 3):
        raise ValueError(f"batch: give one size (8) or min,opt,max (1,8,32), got {value!r}")
    sizes = [_int(p, "batch", 1) for p in parts]
    return (sizes[0],) * 3 if len(sizes) == 1 else (sizes[0], sizes[1], sizes[2])


def parse_options(options: Mapping[str, Any]) -> EngineOptions:
    """The backend's build options, checked; errors name the option."""
    o = {k: v for k, v in options.items() if k in OPTIONS and v is not None}
    onnx = o.get("onnx")
    if onnx is not None:
        onnx = Path(getattr(onnx, "path", onnx))  # a path or an onnxruntime Artifact
        if not onnx.is_file():
            raise FileNotFoundError(f"option onnx: {onnx} not found")
    for key, allowed in (("int8_mode", INT8_MODES), ("builder", BUILDERS)):
        if key in o and o[key] not in allowed:
            raise ValueError(f"option {key} must be one of {', '.join(allowed)}, got {o[key]!r}")
    if "gpu_fallback" in o and not isinstance(o["gpu_fallback"], bool):
        raise ValueError(f"option gpu_fallback must be true or false, got {o['gpu_fallback']!r}")
    return EngineOptions(
        batch=parse_batch(o["batch"]) if "batch" in o else None,
        workspace_mb=_int(o["workspace_mb"], "workspace_mb", 1) if "workspace_mb" in o else None,
        timing_cache=Path(o["timing_cache"]).expanduser() if "timing_cache" in o else None,
        dla_core=_int(o["dla_core"], "dla_core") if "dla_core" in o else None,
        gpu_fallback=o.get("gpu_fallback", True), int8_mode=o.get("int8_mode", "auto"),
        calibration_cache=Path(o["calibration_cache"]).expanduser() if "calibration_cache" in o else None,
        onnx=onnx, builder=o.get("builder", "auto"))


@dataclass(frozen=True)
class Profile:
    """One optimization profile of the single image input: NCHW min, opt and max shapes."""

    input: str
    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]

    @property
    def static(self) -> bool:
        return self.min == self.max

    def record(self) -> dict[str, Any]:
        return {"input": self.input, "min": list(self.min), "opt": list(self.opt), "max": list(self.max)}


def compute_profile(sample_shape: Sequence[int], batch: Sequence[int] | None = None, dla: bool = False,
                    input_name: str = "input", onnx_shape: Sequence[int | str | None] | None = None) -> Profile:
    """(min, opt, max) shapes from the sample's C, H, W and the requested (min, opt, max) batch.

    Default: batch 1 to max(32, the sample's), optimised for the sample's batch; on the DLA (static
    shapes only) the sample's batch alone. Dims the ONNX fixes must agree."""
    shape = [int(d) for d in sample_shape]
    if len(shape) != 4 or min(shape) < 1:
        raise ValueError(f"the sample must be a 4-D NCHW batch with positive dims, got {list(sample_shape)}")
    n, chw = shape[0], tuple(shape[1:])
    lo, opt, hi = batch if batch is not None else ((n, n, n) if dla else (1, n, max(DEFAULT_MAX_BATCH, n)))
    if min(lo, opt, hi) < 1:
        raise ValueError(f"batch sizes must be >= 1, got min {lo}, opt {opt}, max {hi}")
    if lo > hi:
        raise ValueError(f"batch: min {lo} is above max {hi}")
    if not lo <= opt <= hi:
        raise ValueError(f"batch: opt {opt} is outside [min {lo}, max {hi}]")
    if dla and lo != hi:
        raise ValueError(f"the DLA runs static shapes only: give one batch size (batch: {opt}), not {lo},{opt},{hi}")
    if onnx_shape is not None:
        for i, (d, name) in enumerate(zip(onnx_shape, "NCHW")):
            if isinstance(d, int) and d > 0 and not ((lo, *chw)[i] == d == (hi, *chw)[i]):
                got = f"batch {lo}..{hi}" if i == 0 else f"{name} = {chw[i - 1]}"
                raise ValueError(f"the ONNX input '{input_name}' fixes {name} = {d}, but the build asks for {got}")
    return Profile(input_name, (lo, *chw), (opt, *chw), (hi, *chw))


@dataclass(frozen=True)
class BuildPlan:
    """What one build does on one TensorRT release: the answer of the version decision table."""

    version: tuple[int, ...]  # major, minor, patch
    precision: str
    onnx: str  # the ONNX it builds from: fp32 | fp16 | qdq
    int8_mode: str | None = None  # qdq | implicit for int8
    strongly_typed: bool = False
    network_flags: tuple[str, ...] = ()  # NetworkDefinitionCreationFlag names
    builder_flags: tuple[str, ...] = ()  # BuilderFlag names to set
    clear_flags: tuple[str, ...] = ()  # BuilderFlag names to clear
    calibrate: bool = False
    dla_core: int | None = None


def decide(version: Sequence[int], precision: str, given: str | None = None, int8_mode: str = "auto",
           dla_core: int | None = None, gpu_fallback: bool = True) -> BuildPlan:
    """The version decision table. `given`: the kind of ONNX supplied (fp32 | fp16 | qdq), None when the
    backend exports the model itself. A request the release cannot honour raises; nothing is ever
    built at another precision than the one asked for."""
    v = (tuple(int(p) for p in version) + (0, 0, 0))[:3]
    rel, major = release(v), v[0]
    if precision not in PRECISIONS:
        raise ValueError(f"tensorrt builds {', '.join(PRECISIONS)}, not '{precision}'")
    if int8_mode not in INT8_MODES:
        raise ValueError(f"int8_mode must be one of {', '.join(INT8_MODES)}, got {int8_mode!r}")
    if major < OLDEST_MAJOR:
        raise VersionError(f"TensorRT {rel} is too old: edgecv builds and runs engines with TensorRT 10 or 11 "
                           "(name-based I/O, execute_async_v3); JetPack 6.1 and later ship TensorRT 10.3")
    strong = major >= 11  # TensorRT 11: every network is strongly typed; FP16/INT8 flags and calibrators are gone
    if given == "qdq" and precision != "int8":
        raise ValueError(f"the ONNX given holds Q/DQ INT8 quantization: build it as int8, not {precision}")
    if given == "fp16" and precision != "fp16":
        raise ValueError(f"the ONNX given is FP16: build it as fp16, not {precision}")
    dla = dla_core is not None
    if dla and precision == "fp32":
        raise VersionError("the DLA runs fp16 and int8 only; an fp32 engine would run wholly on the GPU fallback: "
                           "ask for fp16 or int8, or drop dla_core")
    if dla and strong and v < DLA_IN_11_FROM:
        raise VersionError(f"TensorRT {rel} has no DLA support (TensorRT 10 has it; 11 again from 11.4.1 on Jetson "
                           "AGX Orin with JetPack 7.2.2): build DLA engines with TensorRT 10 (JetPack 6)")
    flags: list[str] = []
    clear: list[str] = []
    mode, calibrate = None, False
    if precision == "fp32":
        need = "fp32"
        clear.append("TF32")  # fp32 means fp32: no TF32 rounding in convolutions and matmuls
    elif precision == "fp16":
        if strong:
            need = "fp16"  # precision comes from the ONNX's types: an FP16 ONNX (converted if not given)
        else:
            need = given or "fp32"
            flags.append("FP16")
    else:
        mode = int8_mode if int8_mode != "auto" else ("qdq" if given == "qdq" or strong else "implicit")
        if mode == "implicit":
            if strong:
                raise VersionError(f"TensorRT {rel} has no implicit INT8 calibration (BuilderFlag.INT8 and the "
                                   "calibrators were removed in 11): give the quantize stage's Q/DQ ONNX "
                                   "(int8_mode qdq), or build with TensorRT 10")
            if given == "qdq":
                raise ValueError("int8_mode implicit calibrates an FP32 ONNX, but the ONNX given already holds Q/DQ "
                                 "quantization: use int8_mode qdq (or auto)")
            need, calibrate = "fp32", True
            flags.append("INT8")
        else:
            if given != "qdq":
                raise ValueError(
                    "INT8 through Q/DQ needs the quantize stage's Q/DQ ONNX with symmetric int8 activations (edgecv "
                    "quantize MODEL.onnx --precision int8 --activation-type int8 --calib-data DIR -o MODEL-int8.onnx), "
                    "given as option onnx" + ("" if strong else "; or int8_mode implicit to calibrate with TensorRT 10"))
            if dla and not strong:
                raise VersionError("DLA INT8 with TensorRT 10 is built by implicit entropy calibration "
                                   "(IInt8EntropyCalibrator2, the calibrator the DLA requires): use int8_mode implicit "
                                   "with the FP32 model")
            need = "qdq"
    typed = strong or need == "qdq"
    if dla and gpu_fallback:
        flags.append("GPU_FALLBACK")
    return BuildPlan(v, precision, need, mode, typed, ("STRONGLY_TYPED",) if typed and not strong else (),
                     tuple(flags), tuple(clear), calibrate, dla_core)


def onnx_kind(path: str | Path) -> str:
    """fp32, fp16 (float16 weights) or qdq (QuantizeLinear/DequantizeLinear nodes). Q/DQ must be symmetric
    int8, the only INT8 TensorRT runs on the GPU; uint8 (ONNX Runtime's default) is refused here."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path), load_external_data=False).graph
    qdq = [n for n in graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    if qdq:
        consts = {t.name: t for t in graph.initializer}
        consts.update({n.output[0]: a.t for n in graph.node if n.op_type == "Constant" for a in n.attribute if a.name == "value"})
        for n in qdq:
            zp = n.input[2] if len(n.input) > 2 and n.input[2] else None
            if zp is None and n.op_type == "QuantizeLinear":  # no zero point: ONNX makes the output uint8
                raise ValueError(f"{path}: node {n.name} quantizes to uint8 (no zero point); TensorRT runs symmetric int8 "
                                 "Q/DQ: re-quantize with activation_type int8 (edgecv quantize ... --activation-type int8)")
            if zp in consts:
                z = numpy_helper.to_array(consts[zp])
                if z.dtype == np.int32 and n.op_type == "DequantizeLinear" and not np.any(z):
                    continue  # an int32 bias: folded to float before TensorRT sees it (fold_int32_dequantize)
                if z.dtype != np.int8 or np.any(z != 0):
                    kind = "uint8 (asymmetric)" if z.dtype == np.uint8 else f"{z.dtype} with non-zero zero points"
                    raise ValueError(f"{path}: node {n.name} uses {kind} quantization; TensorRT runs symmetric int8 Q/DQ: "
                                     "re-quantize with activation_type int8 (edgecv quantize ... --activation-type int8)")
        return "qdq"
    if any(t.data_type == onnx.TensorProto.FLOAT16 for t in graph.initializer):
        return "fp16"
    return "fp32"


def fold_int32_dequantize(path: str | Path, out: str | Path) -> int:
    """Write `path` to `out` with every DequantizeLinear of a constant int32 tensor (ONNX Runtime's quantized
    biases) replaced by the float tensor it computes; TensorRT dequantizes int8 only. The graph computes
    the same: the bias keeps its quantized value. Returns how many were folded (0: `out` not written)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    consts = {t.name: t for t in graph.initializer}
    folded = []
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in consts or node.input[1] not in consts:
            continue
        x = numpy_helper.to_array(consts[node.input[0]])
        if x.dtype != np.int32:
            continue
        scale = numpy_helper.to_array(consts[node.input[1]]).astype(np.float64)
        zp = numpy_helper.to_array(consts[node.input[2]]) if len(node.input) > 2 and node.input[2] in consts else 0
        if scale.size > 1:  # per-axis: scale runs along `axis` (default 1; a 1-D bias has only axis 0)
            axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
            axis = axis % x.ndim if x.ndim else 0
            shape = [1] * x.ndim
            shape[axis] = scale.size
            scale = scale.reshape(shape)
            zp = np.reshape(zp, shape) if np.size(zp) > 1 else zp
        value = ((x.astype(np.float64) - zp) * scale).astype(np.float32)
        graph.initializer.append(numpy_helper.from_array(value, node.output[0]))
        folded.append(node)
    if not folded:
        return 0
    for node in folded:
        graph.node.remove(node)
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    for t in [t for t in graph.initializer if t.name not in used]:
        graph.initializer.remove(t)
    onnx.save(model, str(out))
    return len(folded)


def calibration_batches(calibration, batch_size: int = CALIBRATION_BATCH) -> list[np.ndarray]:
    """Equal-sized float32 NCHW batches for implicit calibration (its profile is static): the images
    re-chunked, the remainder dropped; fewer images than `batch_size` make one batch."""
    arrays = [np.asarray(b, dtype=np.float32) for b in (calibration or [])]
    if not arrays:
        return []
    images = np.concatenate(arrays)
    size = min(batch_size, len(images))
    return [np.ascontiguousarray(images[i:i + size]) for i in range(0, len(images) // size * size, size)]


def read_calibration_cache(path: str | Path | None) -> bytes | None:
    """The cache's bytes, or None where there is none (missing or empty): TensorRT then calibrates."""
    if path is None or not Path(path).is_file():
        return None
    data = Path(path).read_bytes()
    return data or None


def write_calibration_cache(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(bytes(data))
    return Path(path)


def cache_header(data: bytes) -> tuple[tuple[int, int, int], str]:
    """'TRT-100300-EntropyCalibration2' (the cache's first line) -> ((10, 3, 0), 'EntropyCalibration2')."""
    first = bytes(data[:200]).split(b"\n", 1)[0].decode("ascii", "replace").strip()
    m = re.fullmatch(r"TRT-(\d+)-(\w+)", first)
    if not m:
        raise ValueError(f"not a TensorRT calibration cache (first line {first[:60]!r})")
    return decode_version_int(int(m.group(1))), m.group(2)


def reuse_calibration_cache(path: Path | None, version: Sequence[int], have_images: bool) -> tuple[bool, str | None]:
    """(reuse the cache?, why not). A cache made by another TensorRT release or calibrator is not
    reused: with images the build recalibrates (and rewrites it), without them it is an error."""
    data = read_calibration_cache(path)
    why = None
    if data is not None:
        try:
            made, algo = cache_header(data)
        except ValueError as e:
            why = f"{path}: {e}"
        else:
            if algo != "EntropyCalibration2":
                why = f"{path} was made by the {algo} calibrator; edgecv calibrates with EntropyCalibration2"
            elif release(made) != release(tuple(version)):
                why = f"{path} was made by TensorRT {release(made)}; this is TensorRT {release(tuple(version))}"
            else:
                return True, None
    if have_images:
        return False, why
    raise ValueError((f"{why}: give calibration images to recalibrate" if why else
                      "implicit INT8 needs calibration images (--calib-data DIR, or a recipe's data) or an existing "
                      "calibration cache (option calibration_cache)"))


def build_serialized(onnx_path: Path, plan: BuildPlan, profile: Profile, opts: EngineOptions,
                     calib: list[np.ndarray], calib_cache: Path | None, reuse_cache: bool) -> bytes:
    """Parse the ONNX and build the engine with the TensorRT Python API; the serialized plan's bytes."""
    import tensorrt as trt

    logger = collecting_logger()
    builder = trt.Builder(logger)
    flags = 0
    for name in plan.network_flags:
        flags |= 1 << int(getattr(trt.NetworkDefinitionCreationFlag, name))
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors)) or logger.text()
        raise RuntimeError(f"TensorRT's ONNX parser refused {onnx_path.name}: {errors}")
    if network.num_inputs != 1:
        raise ValueError(f"{onnx_path.name}: expected one image input, the network has {network.num_inputs}")
    config = builder.create_builder_config()
    if opts.workspace_mb:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, opts.workspace_mb << 20)
    for name in plan.builder_flags:
        config.set_flag(getattr(trt.BuilderFlag, name))
    for name in plan.clear_flags:
        config.clear_flag(getattr(trt.BuilderFlag, name))
    name = network.get_input(0).name
    prof = builder.create_optimization_profile()
    prof.set_shape(name, trt.Dims(list(profile.min)), trt.Dims(list(profile.opt)), trt.Dims(list(profile.max)))
    config.add_optimization_profile(prof)
    if plan.dla_core is not None:
        if builder.num_DLA_cores <= plan.dla_core:
            raise ValueError(f"dla_core {plan.dla_core}: this device has {builder.num_DLA_cores} DLA core(s)")
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = plan.dla_core
    timing = None
    if opts.timing_cache is not None:
        old = opts.timing_cache.read_bytes() if opts.timing_cache.is_file() else b""
        timing = config.create_timing_cache(old)
        if not config.set_timing_cache(timing, ignore_mismatch=False):
            raise ValueError(f"timing cache {opts.timing_cache} was made by another TensorRT release or GPU; delete it")
    calibrator = None
    if plan.calibrate:
        shape = trt.Dims([int(d) for d in (calib[0].shape if calib else profile.opt)])
        cal = builder.create_optimization_profile()
        cal.set_shape(name, shape, shape, shape)  # calibration runs at one static shape
        config.set_calibration_profile(cal)
        calibrator = _entropy_calibrator(calib, calib_cache, reuse_cache, make_device() if calib else None)
        config.int8_calibrator = calibrator
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT could not build {onnx_path.name} ({plan.precision}): {logger.text() or 'no reason given'}")
    if timing is not None and opts.timing_cache is not None:
        with atomic_path(opts.timing_cache) as tmp:
            tmp.write_bytes(bytes(config.get_timing_cache().serialize()))
    return bytes(serialized)


def _entropy_calibrator(batches: list[np.ndarray], cache: Path | None, reuse: bool, device):
    """IInt8EntropyCalibrator2 (TensorRT 10; what the DLA requires) over equal-sized batches."""
    import tensorrt as trt

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            trt.IInt8EntropyCalibrator2.__init__(self)
            self._left = iter(batches)
            self._buf = device.alloc(batches[0].nbytes) if batches else None

        def get_batch_size(self):
            return 1  # explicit-batch networks: the batch is in the calibration profile's shape

        def get_batch(self, names):
            batch = next(self._left, None)
            if batch is None or self._buf is None:
                return None
            device.upload(self._buf, batch)
            device.sync()
            return [int(self._buf.ptr)]

        def read_calibration_cache(self):
            return read_calibration_cache(cache) if reuse else None

        def write_calibration_cache(self, data):
            if cache is not None:
                write_calibration_cache(cache, bytes(data))

    return EntropyCalibrator()
