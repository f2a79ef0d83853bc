"""`quantize_onnx`: an FP32 ONNX file in, an INT8 (QDQ) or FP16 ONNX artifact out, with a report.

    res = quantize_onnx("m-fp32.onnx", "m-int8.onnx", "int8", calibration=CalibrationSource(...),
                        spec=QuantizeSpec(method="entropy", budget=0.5), val=EvalSet(...))
    res.artifact   # benchmark it like any other; res.report says what it cost and what stayed FP32
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..backends import REFERENCE_PRECISION
from ..backends.base import Artifact, ArtifactMetadata
from ..targets import Target, resolve_target
from ..utils.io import atomic_path
from .spec import BACKEND, QuantizeSpec


@dataclass
class QuantizeResult:
    artifact: Artifact
    report: dict = field(default_factory=dict)


def source_metadata(path: Path) -> ArtifactMetadata:
    """The FP32 file's metadata: its sidecar if edgecv wrote one, else what the file itself says."""
    art = Artifact.from_path(path, BACKEND)
    if art.sidecar().is_file():
        return art.metadata
    from ..backends import BACKENDS

    return BACKENDS.get(BACKEND).inspect(path)


def quantize_onnx(fp32_path: str | Path, out_path: str | Path, precision: str = "int8", calibration=None,
                  method: str | None = None, spec: QuantizeSpec | None = None, val=None,
                  log: Callable[[str], None] = lambda _s: None, target: str | Target | None = None) -> QuantizeResult:
    """Quantize `fp32_path` to `out_path`. `calibration`: a CalibrationSource or iterable of NCHW batches
    (INT8 only); `val`: an edgecv EvalSet, needed for `spec.budget` / `spec.min_agreement` and used to
    report top-1 when given. `precision` and `method` override the spec's (threads, budget and the rest
    are the spec's). `target`: the CPU the file is for (a name from edgecv.targets; default this
    machine): it decides the INT8 weights (7-bit where 8-bit would saturate) and goes into the metadata."""
    from ..backends.onnx_saturation import int8_saturation
    from ..utils.versions import package_versions
    from .scheme import scheme, weights_for_target

    fp32_path, out_path = Path(fp32_path), Path(out_path)
    if not fp32_path.is_file():
        raise FileNotFoundError(f"ONNX model not found: {fp32_path}")
    if out_path.suffix.lower() != ".onnx":
        raise ValueError(f"{out_path}: the quantized artifact is an ONNX file; name it *.onnx")
    overrides = {"precision": precision, **({"method": method} if method else {})}
    spec = (spec or QuantizeSpec()).model_copy(update=overrides)
    spec = QuantizeSpec.model_validate(spec.model_dump())  # re-validate the overrides
    target = resolve_target(target)
    spec = weights_for_target(spec, target)
    if spec.has_budget and val is None:
        raise ValueError("an accuracy budget or min_agreement needs validation images (--val-data DIR, or the recipe's val split)")
    meta = source_metadata(fp32_path)
    if meta.precision not in (REFERENCE_PRECISION, None):
        raise ValueError(f"{fp32_path} is already {meta.precision}; quantize the FP32 model")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    report: dict = {"precision": spec.precision, "source": str(fp32_path), "target": target.name}
    with tempfile.TemporaryDirectory(prefix="edgecv-quantize-") as tmp:
        work = Path(tmp)
        built = work / "model.onnx"
        if spec.precision == "fp16":
            from .fp16 import convert_fp16

            convert_fp16(fp32_path, built)
        else:
            report.update(_int8(fp32_path, built, spec, calibration, val, work, log), weights=scheme(spec))
            check = int8_saturation(built)  # what x86 without VNNI would make of these weights
            report["x86_without_vnni"] = "safe" if check.safe else "saturates"
            if target.int8_saturates and not check.safe:  # by construction never: 7-bit and uint8 weights fit
                raise RuntimeError(f"INT8 build for {target.describe()} is not saturation-safe: {check.summary()}")
        if val is not None and "top1" not in report:
            from .measure import top1

            report["fp32_top1"], report["top1"] = top1(fp32_path, val, spec.threads), top1(built, val, spec.threads)
            report["drop"] = round(report["fp32_top1"] - report["top1"], 3)
        new = meta.copy(precision=spec.precision, target=target.to_dict())
        new.tool_versions = {**meta.tool_versions, **package_versions(("onnx", "onnxruntime"))}
        new.extra["quantization"] = {**report, "spec": spec.model_dump(exclude_none=True)}
        new.extra["source_artifact"] = str(fp32_path)
        _write_model(built, out_path, new)
    art = Artifact(out_path, BACKEND, new)
    art.save_metadata()
    return QuantizeResult(art, report)


def _int8(fp32_path: Path, out: Path, spec: QuantizeSpec, calibration, val, work: Path, log) -> dict:
    from ..backends.onnx_file import onnx_input
    from .ptq_onnx import calibration_images, fp32_nodes, preprocess_model, quantize_qdq, quantized_nodes

    _, shape = onnx_input(fp32_path)
    images = calibration_images(calibration, shape, fp32_path.name, limit=spec.calib_size)
    prepared = preprocess_model(fp32_path, work / "prepared.onnx", spec.preprocess)
    cache = work / f"calibration-{spec.method}.json"
    info = {"method": spec.method, "calib_images": int(len(images)), "per_channel": spec.per_channel,
            "activation_type": spec.activation_type, "format": "QDQ"}
    if spec.keep_fp32:  # {entry: the nodes it kept in FP32}
        info["keep_fp32"] = fp32_nodes(prepared, spec.keep_fp32)
    if not spec.has_budget:
        quantize_qdq(prepared, out, spec, cache, images)
        return {**info, "int8_nodes": len(quantized_nodes(out)), "kept_fp32": []}
    from ..eval.logits import agreement
    from .budget import Judge, fit_budget
    from .measure import latency_ms, predictions

    fp32_top1, fp32_preds = predictions(fp32_path, val, spec.threads)

    def score(path):  # (top-1, agreement with FP32's predictions)
        top1, preds = predictions(path, val, spec.threads)
        return top1, agreement(preds, fp32_preds)

    sample = val.first(1)
    res = fit_budget(prepared, out, spec, cache, images, Judge(score, lambda p: latency_ms(p, sample, spec.threads), fp32_top1),
                     work, log)
    res.steps.insert(0, {"step": "fp32", "fp32_nodes": None, "kept": [], "added": [], "top1": fp32_top1, "drop": 0.0,
                         "agreement": 100.0, "met": True, "latency_ms_p50": latency_ms(fp32_path, sample, spec.threads),
                         "latency_cost_ms": None})
    chosen = next(s for s in res.steps if s["step"] == res.chosen_step)
    return {**info, **res.summary(), "int8_nodes": len(quantized_nodes(out)), "top1": chosen["top1"],
            "drop": chosen["drop"], "agreement": chosen["agreement"]}


def _write_model(src: Path, dst: Path, meta: ArtifactMetadata) -> None:
    """Copy the model to `dst` atomically with edgecv's metadata inside (readable without the sidecar)."""
    import onnx

    from ..export.onnx_export import set_onnx_metadata

    proto = onnx.load(str(src))
    set_onnx_metadata(proto, meta.plain())
    with atomic_path(dst) as tmp:
        onnx.save(proto, str(tmp))
