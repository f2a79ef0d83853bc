"""The `tensorrt` backend: an engine built from the exported ONNX, run on an NVIDIA GPU or a Jetson.

Precisions fp32, fp16 and int8, INT8 two ways: the quantize stage's Q/DQ ONNX (strongly typed, the only
INT8 of TensorRT 11) or implicit entropy calibration with a calibration cache (TensorRT 10, what the DLA
needs). The TensorRT release found decides how (`builder.decide`); a request it cannot honour is
an error, never a build at another precision. Engines are built with the Python bindings, else with
trtexec where only that exists (JetPack without the bindings in the venv); either way the sidecar holds
the equivalent trtexec line and a record of where the engine was built, and loading it on another
TensorRT release or GPU is refused. tensorrt itself is imported only inside functions.

Options: batch (one size, or min,opt,max: the optimization profile), workspace_mb, timing_cache (a file
reused across builds), dla_core with gpu_fallback (default true), int8_mode (auto|qdq|implicit),
calibration_cache, onnx (a file to build instead of exporting the model: a Q/DQ or FP16 ONNX),
builder (auto|python|trtexec).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Mapping

from ...utils.io import atomic_path
from ..base import BACKENDS, Artifact, ArtifactMetadata, BaseBackend, FunctionRunner, Precision, Runner
from ..layout import guess_layout, input_adapter
from ..metadata import artifact_metadata
from ..onnx_file import onnx_input, onnx_params
from .builder import (OPTIONS, build_serialized, calibration_batches, compute_profile, decide, fold_int32_dequantize,
                      onnx_kind, parse_options, reuse_calibration_cache)
from .metadata import RECORD_KEY, check_engine, engine_record, here_record, parse_version, release, sha256_file
from .runner import (EngineRunner, bindings_installed, bindings_version, engine_io, gpu_identity, has_nvidia_gpu,
                     import_tensorrt, load_engine)
from .trtexec import (WHERE, TrtexecFlags, TrtexecMissing, build_with_trtexec, command_line, find_trtexec, parse_device,
                      trtexec_argv, trtexec_version)

TOOLS = ("torch", "onnx", "onnxslim", "tensorrt")
INSTALL = "pip install 'edgecv[tensorrt]'"


def availability(bindings: bool, trtexec: str | None, gpu: bool) -> tuple[bool, str]:
    """(usable, why not / how): the tensorrt bindings or a trtexec, and an NVIDIA GPU."""
    if not bindings and not trtexec:
        return False, f"tensorrt not installed: {INSTALL} (or put JetPack's trtexec on PATH)"
    if not gpu:
        what = "tensorrt is installed" if bindings else f"trtexec is at {trtexec}"
        return False, f"no NVIDIA GPU found: {what}, but TensorRT builds and runs engines on one"
    if not bindings:
        return True, f"builds through trtexec ({trtexec}); running engines needs the tensorrt Python bindings: {INSTALL}"
    return True, ""


class TensorRTBackend(BaseBackend):
    name = "tensorrt"
    suffix = ".engine"
    extra = "tensorrt"
    format = "trt"
    options: tuple[str, ...] = OPTIONS

    def __init__(self):
        super().__init__([
            Precision("fp32", summary="FP32 (TF32 off)"),
            Precision("fp16", summary="FP16 builder flag (TensorRT 10) or an FP16 ONNX, strongly typed (11)"),
            Precision("int8", needs_calibration=True, integer=True,
                      summary="Q/DQ ONNX from the quantize stage, or entropy calibration (TensorRT 10, DLA)"),
        ])
        for p in self._precisions:
            self.attach_builder(p, self._builder_for(p))

    def available(self) -> tuple[bool, str]:
        bindings = bindings_installed()
        trtexec = find_trtexec()
        return availability(bindings, trtexec, has_nvidia_gpu() if bindings or trtexec else False)

    def build(self, model, sample, precision: str, calibration, out_dir: Path, options=None) -> Artifact:
        """int8 from a Q/DQ ONNX, or from an existing calibration cache, needs no images: such a request
        passes the base check with an empty set, and the build checks what it really needs."""
        opts = options or {}
        cache = opts.get("calibration_cache")
        if calibration is None and precision == "int8" and (opts.get("onnx") is not None or (cache and Path(cache).is_file())):
            calibration = ()
        return super().build(model, sample, precision, calibration, out_dir, options)

    def _builder_for(self, precision: str):
        def build(model, sample, calibration, out_dir: Path, options) -> Artifact:
            return self._build(model, sample, precision, calibration, Path(out_dir), options)

        return build

    def _route(self, builder: str) -> tuple[str, str | None]:
        """('python', None) or ('trtexec', its path)."""
        bindings = bindings_installed()
        if builder == "python" or (builder == "auto" and bindings):
            if not bindings:
                raise ImportError(f"builder python: tensorrt not installed: {INSTALL}")
            return "python", None
        trtexec = find_trtexec()
        if trtexec is None:
            if builder == "trtexec":
                raise TrtexecMissing(f"builder trtexec: trtexec not found (looked at {WHERE})")
            raise ImportError(f"tensorrt not installed: {INSTALL} (no trtexec either; looked at {WHERE})")
        return "trtexec", trtexec

    def _build(self, model, sample, precision: str, calibration, out_dir: Path, options) -> Artifact:
        opts = parse_options(options)
        route, trtexec = self._route(opts.builder)
        version = bindings_version() if trtexec is None else trtexec_version(trtexec)
        plan = decide(version, precision, onnx_kind(opts.onnx) if opts.onnx else None, opts.int8_mode,
                      opts.dla_core, opts.gpu_fallback)
        meta = _metadata(model, sample, precision, opts, options.get("preprocess"))
        stem = f"{meta.source_model}-{precision}"
        engine = out_dir / f"{stem}{self.suffix}"
        images = calibration_batches(calibration) if plan.calibrate else []
        cache, reuse, stale = None, False, None
        if plan.calibrate:
            reuse, stale = reuse_calibration_cache(opts.calibration_cache, version, bool(images))
            cache = opts.calibration_cache or out_dir / f"{stem}.calib"
            if route == "trtexec" and not reuse:
                raise ValueError(f"trtexec cannot calibrate: give a calibration cache made by TensorRT {release(version)} "
                                 f"(option calibration_cache){f' ({stale})' if stale else ''}, or a Q/DQ ONNX (int8_mode qdq)")
        with tempfile.TemporaryDirectory(prefix="edgecv-tensorrt-") as tmp:
            source = onnx = opts.onnx or _export(model, sample, meta, Path(tmp))
            made = None  # what was done to the source ONNX for TensorRT
            if plan.onnx == "fp16" and onnx_kind(onnx) != "fp16":
                onnx, made = _fp16(onnx, sample, Path(tmp), str(release(version))), "converted to FP16"
            if plan.onnx == "qdq" and fold_int32_dequantize(onnx, Path(tmp) / f"{stem}-trt.onnx"):
                onnx, made = Path(tmp) / f"{stem}-trt.onnx", "int32 bias DequantizeLinear folded to float"
            name, onnx_shape = onnx_input(onnx)
            profile = compute_profile(tuple(sample.shape), opts.batch, plan.dla_core is not None, name, onnx_shape)
            gpu: Mapping[str, Any] | None
            if trtexec is None:  # the Python bindings
                data = build_serialized(onnx, plan, profile, opts, images, cache, reuse)
                with atomic_path(engine) as part:
                    part.write_bytes(data)
                gpu = gpu_identity()
            else:
                with atomic_path(engine) as part:
                    argv = trtexec_argv(trtexec, onnx, part, plan, profile, TrtexecFlags(opts.workspace_mb, opts.timing_cache, cache))
                    gpu = parse_device(build_with_trtexec(argv, part)) or gpu_identity()
            sha, meta.extra["params"] = sha256_file(source), onnx_params(onnx)
            built_sha = sha256_file(onnx) if made else None
            shown = str(opts.onnx.resolve()) if onnx == opts.onnx else onnx.name  # a scratch file: its name
        meta.input_shape = [profile.min[0] if profile.static else "batch", *profile.min[1:]]
        meta.tool_versions["tensorrt"] = ".".join(map(str, version))
        meta.extra[RECORD_KEY] = engine_record(
            ".".join(map(str, version)), gpu, precision, plan, profile, sha, route, onnx_kind=plan.onnx,
            onnx=str(opts.onnx.resolve()) if opts.onnx else None, built_from=made, built_onnx_sha256=built_sha,
            workspace_mb=opts.workspace_mb, timing_cache=str(opts.timing_cache) if opts.timing_cache else None,
            calibration_cache=str(cache) if cache else None, calibration_images=sum(map(len, images)) or None,
            calibration_cache_reused=reuse if plan.calibrate else None, calibration_cache_replaced=stale)
        shown_cache = (str(cache) if opts.calibration_cache else cache.name) if cache else None
        meta.extra["trtexec"] = command_line(trtexec_argv("trtexec", shown, engine.name, plan, profile,
                                                          TrtexecFlags(opts.workspace_mb, opts.timing_cache, shown_cache)))
        art = Artifact(engine, self.name, meta)
        art.save_metadata()
        return art

    def load(self, artifact: Artifact, threads: int | None = None) -> Runner:
        trt = import_tensorrt()
        record = artifact.metadata.extra.get(RECORD_KEY)
        if record:
            check_engine(artifact.path, record, here_record(trt.__version__, gpu_identity()))
        runner = EngineRunner(artifact.path, threads)
        meta = artifact.metadata
        adapt = input_adapter(meta.layout, meta.input_dtype, meta.mean, meta.std)
        if adapt is None:
            return runner
        return FunctionRunner(lambda x: runner(adapt(x)), runner.info)

    def inspect(self, path: str | Path) -> ArtifactMetadata:
        """What an engine expects, read from the engine (needs TensorRT and a GPU); its sidecar, if any,
        adds what an engine does not store (precision, preprocessing)."""
        trt, _keep, engine = load_engine(path)
        io = engine_io(engine, path)
        shape: list = [d if d >= 0 else "batch" for d in io["shape"]]
        lo, _, hi = io["profile"]
        if lo[0] == hi[0]:
            shape[0] = lo[0]
        layout = guess_layout(shape)
        if layout == "NHWC":
            shape = [shape[0], shape[3], shape[1], shape[2]]
        side = Artifact.from_path(path, self.name)
        known = side.sidecar().is_file()
        meta = side.metadata if known else ArtifactMetadata(source_model=Path(path).stem, precision="unknown")
        meta = meta.copy(input_shape=shape, layout=layout, input_dtype=io["dtypes"][io["input"]].name)
        meta.extra.update({"outputs": io["output_shapes"], "profile": [list(s) for s in io["profile"]]})
        return meta


def _metadata(model, sample, precision: str, opts, preprocess) -> ArtifactMetadata:
    """From the model (and, for a given ONNX, what its sidecar says about its quantization)."""
    source = Artifact.from_path(opts.onnx, "onnxruntime") if opts.onnx else None
    if model is None:
        if source is None:
            raise ValueError("tensorrt builds from a model or from option onnx; got neither")
        meta = source.metadata.copy(precision=precision, extra={})
    else:
        meta = artifact_metadata(model, sample, precision, TOOLS, preprocess)
    if source is not None and "quantization" in source.metadata.extra:
        meta.extra["quantization"] = source.metadata.extra["quantization"]
    return meta


def _export(model, sample, meta: ArtifactMetadata, work: Path) -> Path:
    from ...export.onnx_export import export_onnx

    if model is None:
        raise ValueError("tensorrt builds from a model or from option onnx; got neither")
    path = work / f"{meta.source_model}-fp32.onnx"
    export_onnx(model, path, tuple(sample.shape), metadata=meta.copy(precision="fp32", extra={}).plain())
    return path


def _fp16(onnx: Path, sample, work: Path, rel: str) -> Path:
    """An FP16 copy of an FP32 ONNX (TensorRT 11 takes precision from the file's types), converted by the
    onnxruntime backend's fp16 builder, which the quantize layer attaches."""
    ort = BACKENDS.get("onnxruntime")
    why = ort.buildable().get("fp16")
    if why:
        raise ValueError(f"TensorRT {rel} builds FP16 from an FP16 ONNX; converting one needs the onnxruntime "
                         f"backend's fp16 builder, which is missing: {why}; or give an FP16 ONNX as option onnx")
    source = Artifact(onnx, "onnxruntime", ArtifactMetadata(source_model=onnx.stem.removesuffix("-fp32"), precision="fp32"))
    return ort.build(None, sample, "fp16", None, work / "fp16", {"source": source}).path

