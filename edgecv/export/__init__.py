"""Export: PyTorch model -> ONNX file. Backends build artifacts on top of it (the TFLite converter lives
with its backend, edgecv/backends/tflite/builder.py)."""
from .onnx_export import ExportError, export_onnx, set_onnx_metadata

__all__ = ["ExportError", "export_onnx", "set_onnx_metadata"]
