"""`quantize`: an FP32 ONNX file -> an INT8 (calibrated QDQ) or FP16 ONNX artifact, optionally within an
accuracy budget measured on labelled images; the preprocessing comes from the file's metadata.

    res = quantize("m.onnx", "m-int8.onnx", calib_data="train/")
    res = quantize("m.onnx", "m-int8.onnx", calib_data="train/", val_data="val/",
                   spec=QuantizeSpec(budget=0.5, method="entropy"))
    res.artifact, res.report   # what it cost and what stayed FP32
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from ..utils.options import with_fields

if TYPE_CHECKING:
    from ..quantize.spec import QuantizeSpec


@dataclass(frozen=True)
class QuantizeOptions:
    precision: str = "int8"  # int8 or fp16
    calib_data: str | Path | None = None  # calibration images (ImageFolder or a flat folder); int8 needs them
    val_data: str | Path | None = None  # labelled images DIR/<class>/*: top-1 and the budget are measured on them
    mean: Sequence[float] | None = None  # for a file without edgecv metadata
    std: Sequence[float] | None = None
    spec: QuantizeSpec | None = None  # method, calib_size, budget, keep_fp32, threads... (its defaults otherwise)
    log: Callable[[str], None] | None = None  # progress lines of the budget loop
    target: str | None = None  # the CPU the file is for (a name from edgecv.targets; default this machine)


def quantize(artifact: str | Path, output: str | Path, options: QuantizeOptions | None = None, **fields):
    """Quantize the FP32 ONNX `artifact` to `output` (a QuantizeResult: the artifact and its report)."""
    from ..quantize.api import quantize_onnx, source_metadata
    from ..quantize.spec import QuantizeSpec

    opts = with_fields(QuantizeOptions, options, fields, "quantize")
    spec = opts.spec or QuantizeSpec()
    src, out = Path(artifact), Path(output).expanduser()
    if not src.is_file():
        raise FileNotFoundError(f"ONNX model not found: {src}")
    if src.suffix.lower() != ".onnx":
        raise ValueError(f"{src}: quantize takes an FP32 .onnx file (export one with `edgecv export --to onnx`)")
    if opts.precision == "int8" and not opts.calib_data:
        raise ValueError("int8 needs calibration images (calib_data: a few hundred training images, not the val images)")
    meta = source_metadata(src)
    mean, std = list(opts.mean or meta.mean), list(opts.std or meta.std)
    size = meta.input_shape[-1]
    if not isinstance(size, int):
        raise ValueError(f"{src}: input shape {meta.input_shape} has no fixed size")
    calibration = val = None
    if opts.precision == "int8":
        from ..data import CalibrationSource

        calibration = CalibrationSource.from_folder(opts.calib_data, size, mean, std, size=spec.calib_size)
    if opts.val_data:
        from ..bench import EvalSet

        val = EvalSet.from_folder(opts.val_data, size, mean, std)
    return quantize_onnx(src, out, opts.precision, calibration, spec=spec, val=val, log=opts.log or (lambda _s: None),
                         target=opts.target)
