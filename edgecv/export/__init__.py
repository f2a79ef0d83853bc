"""Export models to deployable artifacts: ONNX here; every backend through `build_artifact`."""
from .build import BuildResult, build_artifact, resolve_backend
from .onnx_export import ExportError, export_onnx

__all__ = ["BuildResult", "ExportError", "build_artifact", "export_onnx", "resolve_backend"]
