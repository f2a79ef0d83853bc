"""Quantization: INT8 PTQ (ONNX Runtime QDQ) with an accuracy budget, FP16, QAT with KD, precision advice.

    from edgecv.quantize import QuantizeSpec, quantize_onnx
    res = quantize_onnx("m.onnx", "m-int8.onnx", "int8", calibration, spec=QuantizeSpec(budget=0.5), val=evalset)

Heavy libraries (onnxruntime, torchao) are imported inside the functions. onnx_builders.py attaches
int8/fp16 to the onnxruntime backend; edgecv.load_plugins() imports it.
"""
from ..utils.lazy import lazy_getattr
from .spec import METHODS, PRECISIONS, QATSpec, QuantizeSpec

_LAZY = {
    "quantize_onnx": ("api", "quantize_onnx"),
    "QuantizeResult": ("api", "QuantizeResult"),
    "CalibrationError": ("ptq_onnx", "CalibrationError"),
    "fit_budget": ("budget", "fit_budget"),
    "rank_sensitivity": ("budget", "rank_sensitivity"),
    "convert_fp16": ("fp16", "convert_fp16"),
    "prepare_qat": ("qat", "prepare_qat"),
    "qat_finetune": ("qat", "qat_finetune"),
    "export_qat_onnx": ("qat", "export_qat_onnx"),
    "precision_advice": ("advice", "precision_advice"),
    "advice_markdown": ("advice", "advice_markdown"),
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = ["METHODS", "PRECISIONS", "QATSpec", "QuantizeSpec", *_LAZY]
