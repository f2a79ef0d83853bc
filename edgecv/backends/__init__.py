"""Backends, one file each; importing this package registers them (their heavy imports stay lazy)."""
from .base import (BACKENDS, REFERENCE_BACKEND, REFERENCE_PRECISION, Artifact, ArtifactMetadata, Backend, BaseBackend,
                   Precision, Runner, all_precisions, backend_for_suffix, resolve_backend)

# one line per backend module, e.g. "tflite", "tensorrt"
BACKEND_MODULES: list[str] = [
    "torch_eager",
    "onnxruntime_backend",
    "tflite",
    "tensorrt",
    "openvino",
    "executorch",
]

# Backends edgecv knows whose module is not part of this version: name -> the pip extra that will
# provide it (`edgecv info` lists them, so users see what exists and what to install).
UNSHIPPED_BACKENDS: dict[str, str] = {}

for _name in BACKEND_MODULES:
    __import__(f"{__name__}.{_name}")

__all__ = ["BACKENDS", "REFERENCE_BACKEND", "REFERENCE_PRECISION", "Artifact", "ArtifactMetadata", "Backend", "BaseBackend", "Precision", "Runner",
           "UNSHIPPED_BACKENDS", "all_precisions", "backend_for_suffix", "resolve_backend"]
