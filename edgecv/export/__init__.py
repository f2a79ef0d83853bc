"""Export: PyTorch model -> file (ONNX, TFLite). Backends build artifacts on top of these."""
from .onnx_export import ExportError, export_onnx, set_onnx_metadata

__all__ = ["ExportError", "export_onnx", "set_onnx_metadata"]
