"""The `onnxruntime` backend: ONNX export + an InferenceSession (CPU; CUDA/TensorRT providers when present).

builder.py exports the FP32 file, runner.py opens sessions and runs them, metadata.py reads what a file
says about itself. INT8 (QDQ) and FP16 are conversions of the FP32 file that the quantize layer
attaches (`attach_builder(..., derived=True)`), so this package never imports quantize.
"""
from ..base import BACKENDS
from .backend import OnnxRuntimeBackend

BACKENDS.register("onnxruntime", OnnxRuntimeBackend())
